;; A core WebAssembly module, not a component: the host must refuse it at
;; load with an error that says so.
(module
  (func (export "evaluate-message") (result i32) i32.const 0))
