//! The embedded font (DejaVu Sans, licence in assets/DejaVuSans-LICENSE.txt),
//! registered once with plotters' ab_glyph backend under "sans-serif" so no
//! system font is ever looked up.

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

pub(crate) static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Registers the font (idempotent, thread-safe).
pub(crate) fn ensure() -> anyhow::Result<()> {
    let ok = *REGISTERED.get_or_init(|| {
        ["sans-serif", "serif", "monospace"].iter().all(|name| {
            register_font(name, FontStyle::Normal, DEJAVU_SANS).is_ok()
                && register_font(name, FontStyle::Bold, DEJAVU_SANS).is_ok()
        })
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow::anyhow!("embedded font did not load"))
    }
}
