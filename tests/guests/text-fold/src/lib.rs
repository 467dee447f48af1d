//! Folds through the host: every message's text is folded by the contract's
//! `text` interface (`groupgate:policy/text@0.2.0`) with the steps
//! `[config] steps` names, and the result handed back in a review: reason
//! `folded` with the folded text as its message and the offsets, joined by
//! commas, as its evidence (for a folded text over 1 KiB, which would not
//! fit in a verdict, their lengths instead: `N bytes` and `N offsets`);
//! reason `pinyin` with the text's pinyin (or `none`) as its message.
use groupgate_sdk::bindings::groupgate::policy::text::{self, FoldSteps};
use groupgate_sdk::{DataFile, Message, Policy, Verdict, review};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    steps: Vec<String>,
}

struct TextFold {
    steps: FoldSteps,
}

impl Policy for TextFold {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        let config: Config = groupgate_sdk::parse_config(config)?;
        let mut steps = FoldSteps::empty();
        for step in &config.steps {
            steps = steps
                | match step.as_str() {
                    "traditional" => FoldSteps::TRADITIONAL,
                    "confusable" => FoldSteps::CONFUSABLE,
                    "leet" => FoldSteps::LEET,
                    "repeat" => FoldSteps::REPEAT,
                    other => return Err(format!("no folding step `{other}`")),
                };
        }
        Ok(TextFold { steps })
    }

    fn message(&self, message: &Message) -> Verdict {
        let folded = text::fold(message.text(), self.steps);
        let pinyin = text::pinyin(message.text()).unwrap_or_else(|| "none".to_owned());
        let pinyin =
            review("pinyin").message(if pinyin.len() > 1024 { format!("{} bytes", pinyin.len()) } else { pinyin });
        if folded.text.len() > 1024 {
            let lengths = review("folded").message(format!("{} bytes", folded.text.len()));
            return lengths.evidence(format!("{} offsets", folded.offsets.len())).and(pinyin);
        }
        let offsets: Vec<String> = folded.offsets.iter().map(u32::to_string).collect();
        review("folded").message(folded.text).evidence(offsets.join(",")).and(pinyin)
    }
}

groupgate_sdk::policy!(TextFold);
