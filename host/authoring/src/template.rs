//! The templates' small language: `{{key}}` placeholders, and lines kept
//! or dropped by hook (`{{#if HOOK}}`, `{{else}}`, `{{/if}}`).

use groupgate::Hook;

/// `text` with its hook blocks resolved for `hooks` and its placeholders
/// replaced by `vars`. An unknown placeholder or hook, or an unbalanced
/// block, is an error naming the line: a template must render whole.
pub(crate) fn render(text: &str, vars: &[(&str, String)], hooks: &[Hook]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    // Whether each open block keeps its lines.
    let mut open: Vec<bool> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}", i + 1);
        let directive = line.trim();
        if let Some(hook) = directive.strip_prefix("{{#if ").and_then(|d| d.strip_suffix("}}")) {
            let hook: Hook = hook.trim().parse().map_err(|e: groupgate::UnknownHook| at(e.to_string()))?;
            open.push(hooks.contains(&hook));
            continue;
        }
        if directive == "{{else}}" {
            let top = open.last_mut().ok_or_else(|| at("`{{else}}` outside a block".into()))?;
            *top = !*top;
            continue;
        }
        if directive == "{{/if}}" {
            open.pop().ok_or_else(|| at("`{{/if}}` outside a block".into()))?;
            continue;
        }
        if open.iter().all(|keep| *keep) {
            out.push_str(&substitute(line, vars).map_err(at)?);
            out.push('\n');
        }
    }
    if !open.is_empty() {
        return Err(format!("{} block(s) not closed with `{{{{/if}}}}`", open.len()));
    }
    Ok(out)
}

/// `text` with every `{{key}}` replaced by its value.
pub(crate) fn substitute(text: &str, vars: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("`{{{{` without `}}}}` in `{text}`"))?;
        let key = &after[..end];
        let value =
            vars.iter().find(|(k, _)| *k == key).ok_or_else(|| format!("unknown placeholder `{{{{{key}}}}}`"))?;
        out.push_str(&value.1);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_the_lines_of_the_hooks_given_and_placeholders_are_replaced() {
        let text = "a {{name}}\n{{#if message}}\nm\n{{else}}\nno m\n{{/if}}\n{{#if membership}}\nj\n{{/if}}\nz\n";
        let vars = [("name", "x".to_owned())];
        assert_eq!(render(text, &vars, &[Hook::Message]).unwrap(), "a x\nm\nz\n");
        assert_eq!(render(text, &vars, &[Hook::Membership]).unwrap(), "a x\nno m\nj\nz\n");
    }

    #[test]
    fn a_template_that_cannot_render_whole_is_an_error_naming_its_line() {
        let vars = [("name", "x".to_owned())];
        assert!(render("{{nam}}\n", &vars, &[]).unwrap_err().contains("line 1: unknown placeholder `{{nam}}`"));
        assert!(render("{{#if messages}}\n{{/if}}\n", &vars, &[]).unwrap_err().starts_with("line 1:"));
        assert!(render("{{#if message}}\n", &vars, &[]).unwrap_err().contains("not closed"));
        assert!(render("{{/if}}\n", &vars, &[]).unwrap_err().contains("outside a block"));
    }
}
