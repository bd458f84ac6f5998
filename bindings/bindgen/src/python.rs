//! The touches to the Python module uniffi writes: string enums and record methods.
//!
//! Line-based edits of uniffi 0.32's output. Each edit must find what it expects (at least one
//! enum, one record, every enum member a number), else the whole run fails: a uniffi upgrade
//! that changes the output stops the build instead of shipping a half-edited module.

use std::fmt::Write as _;
use std::path::Path;

/// What every record (and every variant of an enum with data) inherits: `to_dict()`. The names of
/// the secret fields come from the library itself (`secret_fields()`, the list the records'
/// `Debug` redacts), read once on the first call.
const RECORD_BASE: &str = r#"
# ---- added by monban's uniffi-bindgen (bindings/bindgen): what every record has ----------------

_MONBAN_SECRET_FIELDS: typing.Optional[typing.Dict[str, typing.FrozenSet[str]]] = None


def _monban_secret_fields(record: str) -> typing.FrozenSet[str]:
    global _MONBAN_SECRET_FIELDS
    if _MONBAN_SECRET_FIELDS is None:
        _MONBAN_SECRET_FIELDS = {k: frozenset(v) for k, v in secret_fields().items()}
    return _MONBAN_SECRET_FIELDS.get(record, frozenset())


def _monban_plain(value: typing.Any, secrets: bool) -> typing.Any:
    if isinstance(value, _MonbanRecord):
        return value.to_dict(secrets=secrets)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_monban_plain(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _monban_plain(v, secrets) for k, v in value.items()}
    return value


class _MonbanRecord:
    """What every monban record has."""

    def to_dict(self, *, secrets: bool = False) -> typing.Dict[str, typing.Any]:
        """The fields as a dict, e.g. for JSON: nested records as dicts, enums as the HTTP API's
        strings, times as `datetime`s. A field holding a secret (a session's token, a mail's
        body, ...) reads "[redacted]", as in `repr()`, unless `secrets=True`. A variant of an
        enum with data (`PasswordProblem.TOO_SHORT(min=8)`) adds its name as `kind`
        (`{"kind": "too_short", "min": 8}`)."""
        cls = type(self)
        out: typing.Dict[str, typing.Any] = {}
        if "." in cls.__qualname__:  # `LoginStep.SESSION`
            out["kind"] = cls.__qualname__.rsplit(".", 1)[-1].lower()
        hidden = frozenset() if secrets else _monban_secret_fields(cls.__qualname__)
        for name, value in vars(self).items():
            name = name.lstrip("_")  # `_class`: uniffi's name for a field called `class`
            if name in hidden and value is not None:
                out[name] = "[redacted]"
            else:
                out[name] = _monban_plain(value, secrets)
        return out

"#;

/// Lines added at the top of a record's `__eq__`.
const EQ_GUARD: &str =
    "        if not isinstance(other, type(self)):\n            return NotImplemented\n";

/// How many of each thing [`touch_up`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Touched {
    /// Fieldless enums made `StrEnum`s.
    pub(crate) string_enums: usize,
    /// Records given `to_dict()`.
    pub(crate) records: usize,
    /// Variants of enums with data given `to_dict()`.
    pub(crate) variants: usize,
}

/// Rewrites the module at `path` in place.
pub(crate) fn touch_up_file(path: &Path) -> Result<(), String> {
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let (out, _) = touch_up(&source)?;
    std::fs::write(path, out).map_err(|e| e.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    /// A fieldless enum: its members become strings.
    FlatEnum,
    /// A record: its `__eq__` gets the type guard.
    Record,
    /// A class holding the variants of an enum with data.
    DataEnum,
    /// Anything else.
    Other,
}

/// The module with the touches, and how many of each were made.
pub(crate) fn touch_up(source: &str) -> Result<(String, Touched), String> {
    let mut out = String::with_capacity(source.len() + RECORD_BASE.len() + 4096);
    let mut touched = Touched::default();
    let mut block = Block::Other;
    let mut enum_name = String::new();
    let mut enum_members = 0;
    let mut base_added = false;
    let mut in_docstring = false;
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        // uniffi ends a class's docstring with `"""` at the start of a line: not a new block.
        let was_in_docstring = in_docstring;
        if line.matches("\"\"\"").count() % 2 == 1 {
            in_docstring = !in_docstring;
        }
        let top_level = !was_in_docstring
            && !line.is_empty()
            && !line.starts_with([' ', '\t', '#', '"', '\'', ')', ']', '}']);
        if top_level && block == Block::FlatEnum && enum_members == 0 {
            return Err(format!("enum {enum_name}: no member found"));
        }
        // `@dataclass` + `class X:` (a record, at the top; a variant, inside an enum with data).
        let nested = block == Block::DataEnum && line == "    @dataclass";
        if line == "@dataclass" || nested {
            let indent = if nested { "    " } else { "" };
            let next = lines.peek().copied().unwrap_or_default();
            if let Some(name) = next
                .strip_prefix(indent)
                .and_then(|l| l.strip_prefix("class "))
                .and_then(|l| l.strip_suffix(':'))
                .filter(|n| is_identifier(n))
            {
                if !nested && !base_added {
                    out.push_str(RECORD_BASE);
                    base_added = true;
                }
                lines.next();
                writeln!(out, "{line}\n{indent}class {name}(_MonbanRecord):").ok();
                if nested {
                    touched.variants += 1;
                } else {
                    touched.records += 1;
                    block = Block::Record;
                }
                continue;
            }
        }
        if top_level {
            block = Block::Other;
            if let Some(name) = line
                .strip_prefix("class ")
                .and_then(|l| l.strip_suffix("(enum.Enum):"))
            {
                block = Block::FlatEnum;
                enum_name = name.to_owned();
                enum_members = 0;
                touched.string_enums += 1;
                writeln!(out, "class {name}(enum.StrEnum):").ok();
                continue;
            }
            if let Some(name) = line
                .strip_prefix("class ")
                .and_then(|l| l.strip_suffix(':'))
                && is_identifier(name)
                && !name.starts_with('_')
            {
                block = Block::DataEnum;
            }
        }
        match block {
            Block::FlatEnum => {
                if let Some((member, value)) = enum_member(line) {
                    if value.parse::<i64>().is_err() {
                        return Err(format!("enum {enum_name}: {member} = {value} is no number"));
                    }
                    enum_members += 1;
                    writeln!(out, "    {member} = \"{}\"", member.to_ascii_lowercase()).ok();
                    continue;
                }
            }
            Block::Record if line == "    def __eq__(self, other):" => {
                writeln!(out, "{line}").ok();
                out.push_str(EQ_GUARD);
                continue;
            }
            _ => {}
        }
        writeln!(out, "{line}").ok();
    }
    if touched.string_enums == 0 || touched.records == 0 || !base_added {
        return Err(format!(
            "not the uniffi output this expects (string enums, records): {touched:?}"
        ));
    }
    Ok((out, touched))
}

/// `    NAME = value` at a class body's indentation, with an upper-case name.
fn enum_member(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("    ")?;
    let (name, value) = rest.split_once(" = ")?;
    let upper = name
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    (upper && !name.is_empty() && !name.starts_with('_')).then_some((name, value.trim()))
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"import enum
import typing

class LoginMethod(enum.Enum):
    """
    How the second factor is delivered.
"""
    
    MAIL_OTP = 0
    """
    A code by mail.
"""
    
    TOTP = 1
    


class _UniffiFfiConverterTypeLoginMethod(_UniffiConverterRustBuffer):
    @staticmethod
    def read(buf):
        variant = buf.read_i32()
        if variant == 1:
            return LoginMethod.MAIL_OTP

@dataclass
class UserRef:
    def __init__(self, *, tenant:str):
        self.tenant = tenant

    def __eq__(self, other):
        if self.tenant != other.tenant:
            return False
        return True

class PasswordProblem:
    def __init__(self):
        raise RuntimeError("PasswordProblem cannot be instantiated directly")

    @dataclass
    class TOO_SHORT:
        def __init__(self, min:int):
            self.min = min

        def __eq__(self, other):
            return True
"#;

    #[test]
    fn enums_become_string_enums_and_records_get_the_base() {
        let (out, touched) = touch_up(SAMPLE).unwrap();
        assert_eq!(
            touched,
            Touched {
                string_enums: 1,
                records: 1,
                variants: 1
            }
        );
        assert!(out.contains("class LoginMethod(enum.StrEnum):"));
        assert!(out.contains("    MAIL_OTP = \"mail_otp\"\n"));
        assert!(out.contains("    TOTP = \"totp\"\n"));
        assert!(out.contains("            return LoginMethod.MAIL_OTP\n"));
        assert!(out.contains("@dataclass\nclass UserRef(_MonbanRecord):"));
        assert!(out.contains("    @dataclass\n    class TOO_SHORT(_MonbanRecord):"));
        assert!(out.find("class _MonbanRecord:") < out.find("class UserRef("));
        let eq = "    def __eq__(self, other):\n        if not isinstance(other, type(self)):";
        assert_eq!(out.matches(eq).count(), 1, "only the record's __eq__");
    }

    #[test]
    fn output_it_does_not_know_fails() {
        assert!(touch_up("import enum\n").is_err());
        let bad = SAMPLE.replace("MAIL_OTP = 0", "MAIL_OTP = \"x\"");
        assert!(touch_up(&bad).unwrap_err().contains("is no number"));
    }
}
