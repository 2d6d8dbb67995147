//! Before/after chart of one interface: two stacked-area panels, one above
//! the other, on the same y scale (each on its own capture's time axis).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::stacked::{Mark, draw_panel, prepare, y_max_for};
use super::{Draw, perr};
use crate::model::InterfaceData;

pub(crate) struct DiffStacked<'a> {
    /// Finding windows drawn on the before and after panels.
    pub(crate) marks: (Vec<Mark>, Vec<Mark>),
    before: Option<&'a InterfaceData>,
    before_bucket: i64,
    after: Option<&'a InterfaceData>,
    after_bucket: i64,
    title: String,
    width: u32,
}

impl<'a> DiffStacked<'a> {
    pub(crate) fn new(
        before: Option<&'a InterfaceData>,
        before_bucket: i64,
        after: Option<&'a InterfaceData>,
        after_bucket: i64,
        title: &str,
        width: u32,
    ) -> Self {
        DiffStacked {
            marks: (Vec::new(), Vec::new()),
            before,
            before_bucket,
            after,
            after_bucket,
            title: title.to_string(),
            width,
        }
    }

    /// Shared y maximum: the larger of both panels' peaks (and link speeds).
    fn y_max(&self) -> f64 {
        let peak = |f: Option<&InterfaceData>, b: i64| {
            f.and_then(|f| prepare(&f.series, b))
                .map_or(0.0, |p| p.max_total)
        };
        let link = self
            .before
            .and_then(|f| f.link_bps)
            .max(self.after.and_then(|f| f.link_bps));
        y_max_for(
            peak(self.before, self.before_bucket).max(peak(self.after, self.after_bucket)),
            link,
        )
    }
}

impl Draw for DiffStacked<'_> {
    fn size(&self) -> (u32, u32) {
        (self.width, 720)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(perr)?;
        let (_, h) = root.dim_in_pixel();
        let (top, bottom) = root.split_vertically(h / 2);
        let y = Some(self.y_max());
        draw_panel(
            &top,
            self.before,
            self.before_bucket,
            y,
            &format!("before: {}", self.title),
            &self.marks.0,
        )?;
        draw_panel(
            &bottom,
            self.after,
            self.after_bucket,
            y,
            &format!("after: {}", self.title),
            &self.marks.1,
        )
    }
}
