//! The two languages monban speaks (M-2).

use serde::{Deserialize, Serialize};

/// A message language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Japanese: the seed systems' own texts.
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Picks a language from an HTTP `Accept-Language` value or a tag such as `en-US`;
    /// `None` when neither Japanese nor English is asked for.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u32)> = None;
        for part in tag.split(',') {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            // q in [0,1] scaled to an integer so that ties keep the first listed.
            let q = (q.clamp(0.0, 1.0) * 1000.0) as u32;
            let lang = if name == "ja" || name.starts_with("ja-") {
                Lang::Ja
            } else if name == "en" || name.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_is_parsed() {
        // SPEC: M-2
        assert_eq!(Lang::from_tag("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr, ja;q=0.5, en;q=0.4"), Some(Lang::Ja));
        assert_eq!(Lang::from_tag("de"), None);
        assert_eq!(Lang::from_tag(""), None);
        assert_eq!(Lang::from_tag("en;q=0, ja"), Some(Lang::Ja));
    }
}
