//! The pages' look and words (UI-3): minijinja templates, the ja/en texts and one stylesheet,
//! embedded in the binary and overridable, file by file, from a theme folder read at start.

use minijinja::Environment;
use monban_core::Lang;
use serde_json::{Map, Value};
use std::path::Path;

/// The embedded templates, by name. A theme folder's `templates/<name>` replaces one.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../pages/templates/base.html")),
    (
        "macros.html",
        include_str!("../../pages/templates/macros.html"),
    ),
    (
        "login.html",
        include_str!("../../pages/templates/login.html"),
    ),
    ("otp.html", include_str!("../../pages/templates/otp.html")),
    (
        "password.html",
        include_str!("../../pages/templates/password.html"),
    ),
    ("home.html", include_str!("../../pages/templates/home.html")),
    ("totp.html", include_str!("../../pages/templates/totp.html")),
    (
        "recovery.html",
        include_str!("../../pages/templates/recovery.html"),
    ),
    (
        "message.html",
        include_str!("../../pages/templates/message.html"),
    ),
    (
        "reset_link.html",
        include_str!("../../pages/templates/reset_link.html"),
    ),
    (
        "admin_users.html",
        include_str!("../../pages/templates/admin_users.html"),
    ),
    (
        "admin_new.html",
        include_str!("../../pages/templates/admin_new.html"),
    ),
    (
        "admin_confirm.html",
        include_str!("../../pages/templates/admin_confirm.html"),
    ),
    (
        "admin_edit.html",
        include_str!("../../pages/templates/admin_edit.html"),
    ),
    (
        "admin_action_confirm.html",
        include_str!("../../pages/templates/admin_action_confirm.html"),
    ),
];

const TEXTS_JA: &str = include_str!("../../pages/texts.ja.json");
const TEXTS_EN: &str = include_str!("../../pages/texts.en.json");
const STYLE: &str = include_str!("../../pages/style.css");

/// How the pages' cookies are named and flagged (UI-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CookieMode {
    /// `__Host-` names with `Secure; HttpOnly; SameSite=Lax; Path=/` (the default). Browsers
    /// accept these over plain HTTP on `localhost` too (Chromium and Firefox treat it as a
    /// secure context), so local development needs nothing else.
    #[default]
    Host,
    /// Plain names without `Secure`, for plain HTTP on a host other than `localhost` (a
    /// development machine reached by its LAN address). Never in production.
    DevHttp,
}

/// The pages' templates, texts, stylesheet and cookie mode.
pub struct Theme {
    env: Environment<'static>,
    texts: [Value; 2],
    css: String,
    cookies: CookieMode,
}

impl std::fmt::Debug for Theme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Theme")
            .field("cookies", &self.cookies)
            .finish_non_exhaustive()
    }
}

impl Default for Theme {
    /// The embedded theme. It is part of the binary, and the test
    /// `the_embedded_theme_builds` proves it compiles, so building it cannot fail at run time.
    fn default() -> Self {
        match Self::build(&[], None, None, None) {
            Ok(t) => t,
            #[allow(clippy::panic)]
            Err(e) => panic!("the embedded theme is broken: {e}"),
        }
    }
}

fn parse_texts(name: &str, s: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) if m.values().all(Value::is_string) => Ok(m),
        Ok(_) => Err(format!("{name}: must be one JSON object of strings")),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

impl Theme {
    /// The embedded theme, with `dir`'s files in place of the embedded ones: any of
    /// `templates/<name>.html`, `texts.ja.json` / `texts.en.json` (keys merged over the
    /// embedded texts) and `style.css`. A file that does not parse is an error at start, never
    /// a broken page later.
    pub fn from_dir(dir: &Path) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!("{}: not a folder", dir.display()));
        }
        let read = |p: &Path| -> Result<Option<String>, String> {
            match std::fs::read_to_string(p) {
                Ok(s) => Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", p.display())),
            }
        };
        let mut templates = Vec::new();
        for (name, _) in TEMPLATES {
            if let Some(s) = read(&dir.join("templates").join(name))? {
                templates.push(((*name).to_owned(), s));
            }
        }
        let tdir = dir.join("templates");
        if tdir.is_dir() {
            for e in std::fs::read_dir(&tdir).map_err(|e| format!("{}: {e}", tdir.display()))? {
                let e = e.map_err(|e| format!("{}: {e}", tdir.display()))?;
                let name = e.file_name().to_string_lossy().into_owned();
                if !TEMPLATES.iter().any(|(n, _)| *n == name) {
                    return Err(format!(
                        "{}: no such template (the templates are: {})",
                        e.path().display(),
                        TEMPLATES
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        let ja = read(&dir.join("texts.ja.json"))?;
        let en = read(&dir.join("texts.en.json"))?;
        let css = read(&dir.join("style.css"))?;
        Self::build(&templates, ja.as_deref(), en.as_deref(), css)
    }

    fn build(
        overrides: &[(String, String)],
        ja: Option<&str>,
        en: Option<&str>,
        css: Option<String>,
    ) -> Result<Self, String> {
        let mut env = Environment::new();
        // Every `{{ }}` is HTML-escaped (the templates all end in .html).
        for (name, src) in TEMPLATES {
            let src = overrides
                .iter()
                .find(|(n, _)| n == name)
                .map_or((*src).to_owned(), |(_, s)| s.clone());
            env.add_template_owned(*name, src)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        // Each template must compile whole (includes and imports resolved) now, not on a request.
        for (name, _) in TEMPLATES {
            env.get_template(name)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        let mut texts = [
            parse_texts("texts.ja.json", TEXTS_JA)?,
            parse_texts("texts.en.json", TEXTS_EN)?,
        ];
        for (i, (name, o)) in [("texts.ja.json", ja), ("texts.en.json", en)]
            .into_iter()
            .enumerate()
        {
            if let Some(o) = o {
                for (k, v) in parse_texts(name, o)? {
                    if !texts[i].contains_key(&k) {
                        return Err(format!("{name}: unknown text key {k:?}"));
                    }
                    texts[i].insert(k, v);
                }
            }
        }
        let [ja, en] = texts;
        Ok(Self {
            env,
            texts: [Value::Object(ja), Value::Object(en)],
            css: css.unwrap_or_else(|| STYLE.to_owned()),
            cookies: CookieMode::Host,
        })
    }

    /// The same theme with another cookie mode.
    #[must_use]
    pub fn cookie_mode(mut self, mode: CookieMode) -> Self {
        self.cookies = mode;
        self
    }

    /// The cookie mode.
    pub fn cookies(&self) -> CookieMode {
        self.cookies
    }

    /// The stylesheet.
    pub fn css(&self) -> &str {
        &self.css
    }

    /// The texts in `lang`.
    pub fn texts(&self, lang: Lang) -> &Value {
        match lang {
            Lang::Ja => &self.texts[0],
            Lang::En => &self.texts[1],
        }
    }

    /// One text in `lang` (the key itself when the catalogue lacks it).
    pub fn text(&self, lang: Lang, key: &str) -> String {
        self.texts(lang)[key].as_str().unwrap_or(key).to_owned()
    }

    /// `name` rendered with `ctx`.
    pub fn render(&self, name: &str, ctx: &Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_theme_builds() {
        // SPEC: UI-3
        let t = Theme::build(&[], None, None, None).unwrap();
        assert_eq!(
            t.texts(Lang::Ja).as_object().unwrap().len(),
            t.texts(Lang::En).as_object().unwrap().len()
        );
    }
}
