//! WASI's blocking calls, answered without blocking where nothing waits.
//!
//! `wasmtime-wasi`'s synchronous bindings run each call that may wait (a
//! print's `blocking-write-and-flush`, a stream's drop, `poll`) as a
//! future on the ambient Tokio runtime with `Handle::block_on`, which
//! panics on a runtime's worker thread. A policy's only streams are its
//! captured stdout and stderr and an empty stdin, and its clocks are frozen
//! (see `freeze_waiting`), so every such future is ready when first polled.
//! These bindings poll it once, in place, and only if it is not ready wait
//! for it as before (handing a worker's other tasks away first): a decision
//! may then run on the thread that read its request, whether or not its
//! policies print.
//!
//! A policy gets no network, so creating a socket is refused outright
//! (`access-denied`), as every use of one would be: no socket call can
//! reach a wait.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamResult};
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::bindings::wasi::io::streams::{HostInputStream as AsyncInput, HostOutputStream as AsyncOutput};

use super::state::PolicyState;

/// `f`'s output: polled once in place, waited for only if not ready.
fn now<F: Future>(f: F) -> F::Output {
    // A future may reach for the runtime's timers or reactor as it is
    // polled: there is always one to reach (the caller's, or WASI's own).
    wasmtime_wasi::runtime::with_ambient_tokio_runtime(|| {
        let mut f = pin!(f);
        if let Poll::Ready(out) = f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            return out;
        }
        let handle = tokio::runtime::Handle::current();
        // Off a worker (a blocking thread, a plain one) this just runs it.
        tokio::task::block_in_place(|| handle.block_on(f))
    })
}

/// The policy's resource table, seen through [`now`].
pub(crate) struct Now<'a>(&'a mut ResourceTable);

struct HasNow;

impl HasData for HasNow {
    type Data<'a> = Now<'a>;
}

/// The socket constructors' interfaces, at the version `wasmtime-wasi` defines.
const TCP_CREATE_SOCKET: &str = "wasi:sockets/tcp-create-socket@0.2.12";
const UDP_CREATE_SOCKET: &str = "wasi:sockets/udp-create-socket@0.2.12";

/// Replaces `wasi:io/poll`, `wasi:io/streams` and the socket constructors
/// of `linker` (which `add_to_linker_sync` filled) with the above.
pub(crate) fn add_to_linker(linker: &mut Linker<PolicyState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::sockets::tcp::TcpSocket;
    use wasmtime_wasi::p2::bindings::sync::sockets::udp::UdpSocket;
    linker.allow_shadowing(true);
    poll::add_to_linker::<PolicyState, HasNow>(linker, |state| Now(state.table()))?;
    streams::add_to_linker::<PolicyState, HasNow>(linker, |state| Now(state.table()))?;
    linker.instance(TCP_CREATE_SOCKET)?.func_wrap("create-tcp-socket", |_, (_,): (IpAddressFamily,)| {
        Ok((Err::<Resource<TcpSocket>, _>(ErrorCode::AccessDenied),))
    })?;
    linker.instance(UDP_CREATE_SOCKET)?.func_wrap("create-udp-socket", |_, (_,): (IpAddressFamily,)| {
        Ok((Err::<Resource<UdpSocket>, _>(ErrorCode::AccessDenied),))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

impl poll::Host for Now<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        now(async_poll::Host::poll(self.0, pollables))
    }
}

impl poll::HostPollable for Now<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        now(async_poll::HostPollable::ready(self.0, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        now(async_poll::HostPollable::block(self.0, pollable))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(self.0, pollable)
    }
}

impl streams::Host for Now<'_> {
    fn convert_stream_error(&mut self, err: wasmtime_wasi::p2::StreamError) -> wasmtime::Result<streams::StreamError> {
        streams::Host::convert_stream_error(self.0, err)
    }
}

impl streams::HostOutputStream for Now<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        now(AsyncOutput::drop(self.0, stream))
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        streams::HostOutputStream::check_write(self.0, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        streams::HostOutputStream::write(self.0, stream, bytes)
    }

    fn blocking_write_and_flush(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        now(AsyncOutput::blocking_write_and_flush(self.0, stream, bytes))
    }

    fn blocking_write_zeroes_and_flush(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        now(AsyncOutput::blocking_write_zeroes_and_flush(self.0, stream, len))
    }

    fn subscribe(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostOutputStream::subscribe(self.0, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        streams::HostOutputStream::write_zeroes(self.0, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        streams::HostOutputStream::flush(self.0, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        now(AsyncOutput::blocking_flush(self.0, Resource::new_borrow(stream.rep())))
    }

    fn splice(&mut self, dst: Resource<DynOutputStream>, src: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        streams::HostOutputStream::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        now(AsyncOutput::blocking_splice(self.0, dst, src, len))
    }
}

impl streams::HostInputStream for Now<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        now(AsyncInput::drop(self.0, stream))
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        streams::HostInputStream::read(self.0, stream, len)
    }

    fn blocking_read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        now(AsyncInput::blocking_read(self.0, stream, len))
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        streams::HostInputStream::skip(self.0, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        now(AsyncInput::blocking_skip(self.0, stream, len))
    }

    fn subscribe(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostInputStream::subscribe(self.0, stream)
    }
}
