//! Correct glyph placement for PNG charts.
//!
//! plotters 0.3.7 draws ab_glyph text by placing each glyph's bitmap at the
//! pen position without its left side bearing (`px_bounds().min.x`), so
//! letters with different bearings drift apart or collide ("manage ment",
//! "UT C"); the SVG output has no such problem (the viewer lays text out).
//! [`GlyphFix`] wraps a backend and draws text itself with the embedded font,
//! bearing included; every other call goes straight to the wrapped backend.

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// A backend whose text is drawn with the embedded font, glyph bearings included.
pub(crate) struct GlyphFix<B> {
    pub inner: B,
    font: FontRef<'static>,
}

impl<B> GlyphFix<B> {
    pub fn new(inner: B) -> GlyphFix<B> {
        GlyphFix {
            inner,
            font: FontRef::try_from_slice(super::font::DEJAVU_SANS).expect("embedded font parses"),
        }
    }

    /// Pen advance of `text` at `px` pixels, kerning included (as plotters measures it).
    fn width(&self, px: f32, text: &str) -> f32 {
        let f = self.font.as_scaled(px);
        let mut w = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let g = f.glyph_id(c);
            if let Some(p) = prev {
                w += f.kern(p, g);
            }
            w += f.h_advance(g);
            prev = Some(g);
        }
        w
    }
}

impl<B: DrawingBackend> DrawingBackend for GlyphFix<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }
    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let px = style.size() as f32;
        Ok((self.width(px, text).max(0.0) as u32, (px / 1.24) as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let px = style.size() as f32;
        // The same box plotters lays text out with, so anchors line up as before.
        let width = self.width(px, text) as i32;
        let height = (px / 1.24) as i32;
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.inner.get_size();
        let f = self.font.as_scaled(px);
        let mut pen = 0f32;
        let mut prev = None;
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                pen += f.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(px, ab_glyph::point(pen, 0.0));
            if let Some(q) = f.outline_glyph(glyph) {
                let r = q.px_bounds();
                // The bitmap's origin is its bounds' corner: bearing included.
                let (ox, oy) = (r.min.x.round() as i32, (px / 2.0 + r.min.y) as i32);
                q.draw(|x, y, cov| pixels.push((ox + x as i32, oy + y as i32, cov)));
            }
            pen += f.h_advance(id);
        }
        for (x, y, cov) in pixels {
            let (x, y) = trans.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let c = BackendColor {
                    alpha: color.alpha * f64::from(cov.clamp(0.0, 1.0)),
                    rgb: color.rgb,
                };
                self.inner.draw_pixel((x, y), c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    /// Columns of `buf` (RGB, white background) that hold ink.
    fn inked_columns(buf: &[u8], w: u32, h: u32) -> Vec<bool> {
        (0..w)
            .map(|x| {
                (0..h).any(|y| {
                    let i = (y * w + x) as usize * 3;
                    buf[i] < 128
                })
            })
            .collect()
    }

    /// The widest run of blank columns between the first and last inked column.
    fn widest_gap(cols: &[bool]) -> usize {
        let first = cols.iter().position(|&c| c).unwrap();
        let last = cols.iter().rposition(|&c| c).unwrap();
        let (mut best, mut run) = (0, 0);
        for &c in &cols[first..=last] {
            if c {
                run = 0;
            } else {
                run += 1;
                best = best.max(run);
            }
        }
        best
    }

    #[test]
    fn letters_of_a_word_are_not_spread_apart() {
        super::super::font::ensure().unwrap();
        let (w, h) = (400u32, 40u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let root =
                GlyphFix::new(BitMapBackend::with_buffer(&mut buf, (w, h))).into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new(
                "management",
                (5, 10),
                ("sans-serif", 20).into_font(),
            ))
            .unwrap();
            root.present().unwrap();
        }
        // Inside one word no blank run should be as wide as a space (~6 px at 20 px).
        let gap = widest_gap(&inked_columns(&buf, w, h));
        assert!(gap <= 3, "a {gap}-pixel gap inside \"management\"");
        // And a space still separates two words.
        let mut buf2 = vec![255u8; (w * h * 3) as usize];
        {
            let root =
                GlyphFix::new(BitMapBackend::with_buffer(&mut buf2, (w, h))).into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new("UT C", (5, 10), ("sans-serif", 20).into_font()))
                .unwrap();
            root.present().unwrap();
        }
        assert!(widest_gap(&inked_columns(&buf2, w, h)) >= 4);
    }
}
