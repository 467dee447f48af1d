//! Implements `groupgate:policy@0.2.0`, a contract this host does not.
wit_bindgen::generate!({ path: "wit", world: "policy" });

struct Other;

impl Guest for Other {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn evaluate_message(_message: Message) -> Verdict {
        Verdict { score: 0 }
    }
}

export!(Other);
