//! A test run as people and CI systems read it: lines of text, JUnit XML
//! and JSON.

use std::fmt::Write as _;

use groupgate::printable;

use crate::report::micros;
use crate::{CaseResult, Report, TestError, TestRun};

/// What starts a line that continues the one above: the lines a failing
/// policy wrote (a panic's location, a traceback) keep their own lines.
const CONTINUED: &str = "      | ";

/// `KIND  at: text`, a line of its own for each further line of `text`.
fn push_block(lines: &mut Vec<String>, kind: &str, at: &str, text: &str) {
    let mut parts = text.lines();
    lines.push(format!("{kind} {at}: {}", printable(parts.next().unwrap_or_default())));
    lines.extend(parts.map(|l| format!("{CONTINUED}{}", printable(l))));
}

impl TestRun {
    /// One line per failed case, per policy that hit a limit, and per slow
    /// policy call, in case order; with `verbose`, a line for every case.
    /// Each names the case file and the case.
    pub fn case_lines(&self, verbose: bool) -> Vec<String> {
        let mut lines = Vec::new();
        // Each error names its file (and case and key) itself.
        for error in self.unreadable().flat_map(|f| &f.errors) {
            lines.push(format!("ERROR {}", printable(error)));
        }
        for case in self.cases() {
            let at = format!("{}: `{}`", printable(&case.file.display().to_string()), printable(&case.name));
            if case.passed {
                if verbose {
                    lines.push(format!("ok    {at} ({})", micros(case.duration_us)));
                }
            } else {
                // Failures of one line first: one that ends with what a
                // policy wrote runs on to lines of its own.
                let (short, long): (Vec<&String>, Vec<&String>) = case.failures.iter().partition(|f| !f.contains('\n'));
                let joined: Vec<&str> = short.into_iter().chain(long).map(String::as_str).collect();
                push_block(&mut lines, "FAIL ", &at, &joined.join("; "));
            }
            for limit in &case.limits {
                push_block(&mut lines, "LIMIT", &at, limit);
            }
            lines.extend(case.slow.iter().map(|s| format!("SLOW  {at}: {}", printable(s))));
        }
        lines
    }

    /// The failed cases' lines and the unreadable files' alone (with the
    /// lines that continue them).
    pub fn failure_lines(&self) -> Vec<String> {
        let mut failing = false;
        let mut lines = self.case_lines(false);
        lines.retain(|l| {
            if !l.starts_with(CONTINUED) {
                failing = l.starts_with("FAIL") || l.starts_with("ERROR");
            }
            failing
        });
        lines
    }

    /// Per policy of each set tested: its hooks and reason codes that no
    /// case exercised.
    pub fn coverage_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for report in self.reports() {
            lines.push(format!("coverage of `{}`:", report.root.display()));
            for p in &report.coverage {
                let hooks_hit = p.hooks.iter().filter(|h| h.cases > 0).count();
                let codes_hit = p.reasons.len() - p.untested_reasons().count();
                lines.push(format!(
                    "  {}: hooks {hooks_hit} of {}, reason codes {codes_hit} of {}, {} case(s) of its own",
                    p.policy,
                    p.hooks.len(),
                    p.reasons.len(),
                    p.own_cases
                ));
                if p.own_cases == 0 {
                    lines.push("    no cases of its own: only the set's cases run it".to_owned());
                }
                for hook in p.untested_hooks() {
                    lines.push(format!("    untested hook `{hook}`: no case runs the policy on it"));
                }
                for r in p.untested_reasons() {
                    let why = if r.given == 0 {
                        "declared in policy.toml, but no case makes the policy give it".to_owned()
                    } else {
                        format!("given in {} case(s), but none expects it under `reasons`", r.given)
                    };
                    lines.push(format!("    untested reason `{}`: {why}", r.code));
                }
            }
        }
        lines
    }

    /// The run as JUnit XML: one `testsuite` per case file, one `testcase`
    /// per case, the failures as the `failure` text; a set that could not be
    /// tested is one `testcase` with an `error`.
    pub fn to_junit(&self) -> String {
        let mut suites = String::new();
        let mut total = (0usize, 0usize, 0usize, 0u64);
        for set in &self.sets {
            match &set.result {
                Ok(report) => {
                    for file in &report.unreadable {
                        total = (total.0 + 1, total.1, total.2 + 1, total.3);
                        let name = file.file.display().to_string();
                        error_suite(&mut suites, &name, "read the case file", &file.errors.join("\n"), "cases");
                    }
                    for group in by_file(report) {
                        let failed = group.iter().filter(|c| !c.passed).count();
                        let time: u64 = group.iter().map(|c| c.duration_us).sum();
                        total = (total.0 + group.len(), total.1 + failed, total.2, total.3 + time);
                        let file = group[0].file.display().to_string();
                        let _ = writeln!(
                            suites,
                            r#"  <testsuite name="{}" tests="{}" failures="{failed}" errors="0" skipped="0" time="{}">"#,
                            attr(&file),
                            group.len(),
                            secs(time)
                        );
                        for case in group {
                            testcase(&mut suites, report, case, &file);
                        }
                        suites.push_str("  </testsuite>\n");
                    }
                }
                Err(error) => {
                    total.0 += 1;
                    total.2 += 1;
                    let kind = match error {
                        TestError::Path(_) => "path",
                        TestError::Load(_) => "load",
                        TestError::Cases(_) => "cases",
                    };
                    let root = set.root.display().to_string();
                    error_suite(&mut suites, &root, "load the policy set and its cases", &error.to_string(), kind);
                }
            }
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"groupgate\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n{suites}</testsuites>\n",
            total.0,
            total.1,
            total.2,
            secs(total.3)
        )
    }

    /// The run as JSON: totals, and per set its cases (with each decision)
    /// and coverage, or the error that kept it from being tested.
    pub fn to_json(&self) -> serde_json::Value {
        let sets: Vec<serde_json::Value> = self
            .sets
            .iter()
            .map(|set| match &set.result {
                Ok(report) => serde_json::json!({
                    "root": report.root,
                    "error": null,
                    "passed": report.cases.iter().filter(|c| c.passed).count(),
                    "failed": report.cases.iter().filter(|c| !c.passed).count(),
                    "cases": report.cases,
                    "coverage": report.coverage,
                    "unreadable": report.unreadable,
                }),
                Err(e) => serde_json::json!({
                    "root": set.root.display().to_string(),
                    "error": e.to_string(),
                    "passed": 0,
                    "failed": 0,
                    "cases": [],
                    "coverage": [],
                    "unreadable": [],
                }),
            })
            .collect();
        serde_json::json!({
            "passed": self.passed(),
            "failed": self.failed(),
            "unreadable_files": self.unreadable().count(),
            "sets": sets,
        })
    }
}

/// A `testsuite` named `name` of one `testcase` that could not run: an
/// `error` of type `kind`, its first line as the message.
fn error_suite(out: &mut String, name: &str, case: &str, message: &str, kind: &str) {
    let _ = writeln!(
        out,
        r#"  <testsuite name="{0}" tests="1" failures="0" errors="1" skipped="0" time="0">
    <testcase name="{1}" classname="{0}" time="0">
      <error message="{2}" type="{4}">{3}</error>
    </testcase>
  </testsuite>"#,
        attr(name),
        attr(case),
        attr(message.lines().next().unwrap_or_default()),
        text(message),
        kind
    );
}

fn testcase(out: &mut String, report: &Report, case: &CaseResult, file: &str) {
    let class = case.policy.clone().unwrap_or_else(|| {
        report.root.file_name().map_or_else(|| "set".to_owned(), |n| n.to_string_lossy().into_owned())
    });
    let _ = write!(
        out,
        r#"    <testcase name="{}" classname="{}" file="{}" time="{}">"#,
        attr(&case.name),
        attr(&class),
        attr(file),
        secs(case.duration_us)
    );
    if !case.passed {
        let decision = serde_json::to_string(&case.decision).unwrap_or_default();
        let body = format!("{}\ndecision: {decision}", case.failures.join("\n"));
        let _ = write!(
            out,
            "\n      <failure message=\"{}\" type=\"expectation\">{}</failure>",
            attr(case.failures.first().map_or("", String::as_str)),
            text(&body)
        );
    }
    let notes: Vec<&String> = case.limits.iter().chain(&case.slow).collect();
    if !notes.is_empty() {
        let joined = notes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n");
        let _ = write!(out, "\n      <system-out>{}</system-out>", text(&joined));
    }
    let close = if case.passed && notes.is_empty() { "</testcase>\n" } else { "\n    </testcase>\n" };
    out.push_str(close);
}

/// The report's cases, grouped by case file (they come in file order).
fn by_file(report: &Report) -> Vec<Vec<&CaseResult>> {
    let mut groups: Vec<Vec<&CaseResult>> = Vec::new();
    for case in &report.cases {
        match groups.last_mut() {
            Some(g) if g[0].file == case.file => g.push(case),
            _ => groups.push(vec![case]),
        }
    }
    groups
}

fn secs(us: u64) -> String {
    format!("{:.6}", us as f64 / 1e6)
}

/// Text content: markup escaped, and characters XML 1.0 cannot carry at all
/// (most control characters, which a policy may put in a reason) replaced.
fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value: as [`text`], with quotes and line breaks escaped too.
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'.. => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_lines_escape_control_characters() {
        assert_eq!(printable("a\r\nb\u{1b}[31m"), "a\\r\\nb\\u{1b}[31m");
        assert_eq!(printable("plain ü"), "plain ü");
    }

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(attr("a<b & \"c\"\n"), "a&lt;b &amp; &quot;c&quot;&#10;");
        assert_eq!(text("bell\u{7} nul\u{0} tab\t"), "bell\u{FFFD} nul\u{FFFD} tab\t");
    }
}
