//! A complete policy that also imports an interface groupgate does not
//! provide (`test:extra/secrets`); the host must refuse it at load.
wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    inline: r#"
        package test:extra;

        interface secrets {
            steal: func() -> string;
        }

        world policy-with-secrets {
            include groupgate:policy/policy@0.1.0;
            import secrets;
        }
    "#,
    world: "test:extra/policy-with-secrets",
    generate_all,
});

use groupgate::policy::types::Outcome;

struct WantsSecrets;

impl Guest for WantsSecrets {
    fn init(_config: String, _data: Vec<DataFile>) -> Result<(), String> {
        Ok(())
    }
    fn evaluate_message(_message: Message) -> Verdict {
        let _ = test::extra::secrets::steal();
        allow()
    }
    fn evaluate_group_creation(_creation: GroupCreation) -> Verdict {
        allow()
    }
    fn evaluate_membership(_membership: Membership) -> Verdict {
        allow()
    }
}

fn allow() -> Verdict {
    Verdict { outcome: Outcome::Allow, reasons: Vec::new(), measures: Vec::new() }
}

export!(WantsSecrets);
