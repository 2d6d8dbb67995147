//! Share of bytes by role, one horizontal stacked bar per interface.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::Ticked;
use super::{Draw, perr, role_color};
use crate::Role;
use crate::escape::chart_label;
use crate::model::InterfaceData;

pub(crate) struct Share<'a> {
    ifaces: &'a [InterfaceData],
    width: u32,
}

impl<'a> Share<'a> {
    pub(crate) fn new(ifaces: &'a [InterfaceData], width: u32) -> Self {
        Share { ifaces, width }
    }
}

/// Bytes per role of an interface, in `Role::ALL` order.
pub fn role_bytes(f: &InterfaceData) -> [u64; 6] {
    let mut b = [0u64; 6];
    for r in &f.roles {
        b[r.role.index()] = b[r.role.index()].saturating_add(r.bytes);
    }
    b
}

impl Draw for Share<'_> {
    fn size(&self) -> (u32, u32) {
        let rows = self.ifaces.len().max(1) as u32;
        (self.width, (110 + 28 * rows).min(8000))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(perr)?;
        let n = self.ifaces.len();
        if n == 0 {
            return super::no_data(root, "no interfaces");
        }
        let (w, _) = root.dim_in_pixel();
        let (plot, legend) =
            root.split_horizontally(w.saturating_sub(super::stacked::LEGEND_W).max(1));
        let labels: Vec<String> = self
            .ifaces
            .iter()
            .map(|f| chart_label(&format!("{} / {}", f.node, f.interface), 30))
            .collect();
        let keys: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        let y_fmt = |y: &f64| {
            let row = (*y - 0.5).round();
            if row < 0.0 {
                return String::new();
            }
            // Row 0 is drawn at the top.
            labels
                .get(n.saturating_sub(1).saturating_sub(row as usize))
                .cloned()
                .unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(&plot)
            .caption("Share of bytes by role", ("sans-serif", 23))
            .margin(8)
            .margin_right(16)
            .x_label_area_size(40)
            .y_label_area_size(250)
            .build_cartesian_2d(0f64..100f64, Ticked::new(0f64..n as f64, keys))
            .map_err(perr)?;
        chart
            .configure_mesh()
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&|x| format!("{x:.0}%"))
            .x_labels(11)
            .x_desc("share of bytes")
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 17))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .max_light_lines(1)
            .draw()
            .map_err(perr)?;
        for (i, f) in self.ifaces.iter().enumerate() {
            let row = (n - 1 - i) as f64;
            let b = role_bytes(f);
            let total: f64 = b.iter().map(|x| *x as f64).sum();
            if total <= 0.0 {
                continue;
            }
            let mut x = 0.0;
            for role in Role::ALL {
                let share = 100.0 * b[role.index()] as f64 / total;
                if share <= 0.0 {
                    continue;
                }
                let x1 = (x + share).min(100.0);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, row + 0.15), (x1, row + 0.85)],
                        role_color(role).mix(0.85).filled(),
                    )))
                    .map_err(perr)?;
                x = x1;
            }
        }
        let font = ("sans-serif", 17).into_font();
        let mut y = 40;
        for role in Role::ALL {
            legend
                .draw(&Rectangle::new(
                    [(6, y), (22, y + 14)],
                    role_color(role).mix(0.85).filled(),
                ))
                .map_err(perr)?;
            legend
                .draw(&Text::new(role.name(), (28, y), font.clone()))
                .map_err(perr)?;
            y += 22;
        }
        Ok(())
    }
}
