//! The `request` interface of contract 0.2.0: the request of the call under
//! way, lent to the policy as a resource it reads field by field. The host
//! keeps the request in the instance's state for the call; a handle carries
//! no data of its own (a borrow cannot outlive the call it was lent to), so
//! each method reads the field straight from the request, and only what the
//! policy asks for is copied into its memory.

use wasmtime::component::Resource;

use super::state::PolicyState;
use crate::bindings::v2::request::{self, GroupCreation, Membership, Message};
use crate::request::Request;
use crate::wire::{self, Attachment, Group, MembershipKind, Role, User};

impl PolicyState {
    fn current(&self) -> wasmtime::Result<&Request> {
        self.request.as_deref().ok_or_else(|| wasmtime::format_err!("no request is lent outside a call"))
    }

    fn message(&self) -> wasmtime::Result<&wire::Message> {
        match self.current()? {
            Request::Message(m) => Ok(m),
            _ => Err(wasmtime::format_err!("the request lent is not a message")),
        }
    }

    fn creation(&self) -> wasmtime::Result<&wire::GroupCreation> {
        match self.current()? {
            Request::GroupCreation(c) => Ok(c),
            _ => Err(wasmtime::format_err!("the request lent is not a group creation")),
        }
    }

    fn membership(&self) -> wasmtime::Result<&wire::Membership> {
        match self.current()? {
            Request::Membership(m) => Ok(m),
            _ => Err(wasmtime::format_err!("the request lent is not a membership")),
        }
    }

    /// `count`: what the host read for the call. A counter or window the
    /// manifest does not declare traps, naming what it does declare, so the
    /// mistake shows in the policy's first test.
    fn count(&self, counter: &str, window: &str) -> wasmtime::Result<Option<u64>> {
        if let Some(count) = self.counts.get(counter, window) {
            return Ok(count);
        }
        let declared: Vec<String> = self.counts.names().iter().map(|(c, w)| format!("{c} over {w}")).collect();
        let declared = if declared.is_empty() { "none".to_owned() } else { declared.join(", ") };
        Err(wasmtime::format_err!(
            "counter `{}` over `{}` is not declared under `[counters]` in the policy's manifest \
             (declared: {declared})",
            crate::sandbox::printable(crate::policy::shortened(counter)),
            crate::sandbox::printable(crate::policy::shortened(window))
        ))
    }
}

impl request::Host for PolicyState {}

impl request::HostMessage for PolicyState {
    fn id(&mut self, _: Resource<Message>) -> wasmtime::Result<String> {
        Ok(self.message()?.id.clone())
    }
    fn group(&mut self, _: Resource<Message>) -> wasmtime::Result<Group> {
        Ok(self.message()?.group.clone())
    }
    fn sender(&mut self, _: Resource<Message>) -> wasmtime::Result<User> {
        Ok(self.message()?.sender.clone())
    }
    fn sender_role(&mut self, _: Resource<Message>) -> wasmtime::Result<Role> {
        Ok(self.message()?.sender_role)
    }
    fn text(&mut self, _: Resource<Message>) -> wasmtime::Result<String> {
        Ok(self.message()?.text.clone())
    }
    fn attachments(&mut self, _: Resource<Message>) -> wasmtime::Result<Vec<Attachment>> {
        Ok(self.message()?.attachments.clone())
    }
    fn sent_at(&mut self, _: Resource<Message>) -> wasmtime::Result<u64> {
        Ok(self.message()?.sent_at)
    }
    fn count(&mut self, _: Resource<Message>, counter: String, window: String) -> wasmtime::Result<Option<u64>> {
        PolicyState::count(self, &counter, &window)
    }
    fn drop(&mut self, _: Resource<Message>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl request::HostGroupCreation for PolicyState {
    fn id(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<String> {
        Ok(self.creation()?.id.clone())
    }
    fn founder(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<User> {
        Ok(self.creation()?.founder.clone())
    }
    fn name(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<String> {
        Ok(self.creation()?.name.clone())
    }
    fn description(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<String> {
        Ok(self.creation()?.description.clone())
    }
    fn category(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<String> {
        Ok(self.creation()?.category.clone())
    }
    fn region(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<String> {
        Ok(self.creation()?.region.clone())
    }
    fn member_limit(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<u32> {
        Ok(self.creation()?.member_limit)
    }
    fn requested_at(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<u64> {
        Ok(self.creation()?.requested_at)
    }
    fn count(&mut self, _: Resource<GroupCreation>, counter: String, window: String) -> wasmtime::Result<Option<u64>> {
        PolicyState::count(self, &counter, &window)
    }
    fn drop(&mut self, _: Resource<GroupCreation>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl request::HostMembership for PolicyState {
    fn id(&mut self, _: Resource<Membership>) -> wasmtime::Result<String> {
        Ok(self.membership()?.id.clone())
    }
    fn kind(&mut self, _: Resource<Membership>) -> wasmtime::Result<MembershipKind> {
        Ok(self.membership()?.kind)
    }
    fn group(&mut self, _: Resource<Membership>) -> wasmtime::Result<Group> {
        Ok(self.membership()?.group.clone())
    }
    fn subject(&mut self, _: Resource<Membership>) -> wasmtime::Result<User> {
        Ok(self.membership()?.subject.clone())
    }
    fn inviter(&mut self, _: Resource<Membership>) -> wasmtime::Result<Option<User>> {
        Ok(self.membership()?.inviter.clone())
    }
    fn requested_at(&mut self, _: Resource<Membership>) -> wasmtime::Result<u64> {
        Ok(self.membership()?.requested_at)
    }
    fn count(&mut self, _: Resource<Membership>, counter: String, window: String) -> wasmtime::Result<Option<u64>> {
        PolicyState::count(self, &counter, &window)
    }
    fn drop(&mut self, _: Resource<Membership>) -> wasmtime::Result<()> {
        Ok(())
    }
}
