//! Minimal SVG line charts for the report: series of points, optional horizontal reference
//! lines (a machine's peak, a lower bound), axes with ticks, and a legend. Written by hand so
//! the project needs no plotting dependency.

use std::fmt::Write;

/// One line on a chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// A horizontal dashed line with a label, e.g. the FMA peak.
#[derive(Clone, Debug)]
pub struct HLine {
    pub label: String,
    pub y: f64,
}

/// A chart description; [`Chart::to_svg`] renders it.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Logarithmic x axis (base 2), for sizes.
    pub log_x: bool,
    pub series: Vec<Series>,
    pub hlines: Vec<HLine>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

impl Chart {
    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(self.hlines.iter().map(|h| h.y));
        let fx = |x: f64| if self.log_x { x.max(1e-12).log2() } else { x };
        let (x_min, x_max) = bounds(xs.map(fx));
        let (_, y_top) = bounds(ys);
        let y_max = nice_ceiling(y_top);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let px = |x: f64| LEFT + (fx(x) - x_min) / (x_max - x_min).max(1e-12) * plot_w;
        let py = |y: f64| TOP + plot_h - y / y_max * plot_h;

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = write!(
            svg,
            r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
            LEFT + plot_w / 2.0,
            escape(&self.title)
        );
        // Axes and y ticks.
        let _ = write!(
            svg,
            r#"<path d="M{LEFT},{TOP} V{} H{}" stroke="black" fill="none"/>"#,
            TOP + plot_h,
            LEFT + plot_w
        );
        for i in 0..=5 {
            let y = y_max * i as f64 / 5.0;
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y0}" y2="{y0}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                py(y) + 4.0,
                short(y),
                y0 = py(y)
            );
        }
        // x ticks at the distinct x values of the first series (sizes), or 6 even steps.
        let mut ticks: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
        if ticks.len() > 12 {
            let (lo, hi) = (ticks[0], ticks[ticks.len() - 1]);
            ticks = (0..=6).map(|i| lo + (hi - lo) * i as f64 / 6.0).collect();
        }
        for x in ticks {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                px(x),
                TOP + plot_h + 18.0,
                short(x)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 18.0,
            escape(&self.x_label)
        );
        let _ = write!(
            svg,
            r#"<text transform="translate(20,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let path: Vec<String> = s
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            if !path.is_empty() {
                let _ = write!(
                    svg,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                    path.join(" ")
                );
            }
            let ly = TOP + 14.0 + 18.0 * i as f64;
            let lx = LEFT + plot_w + 14.0;
            let _ = write!(
                svg,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
                lx + 20.0,
                lx + 26.0,
                ly + 4.0,
                escape(&s.label)
            );
        }
        // Reference lines last, so a series lying on them does not hide them.
        for h in &self.hlines {
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#444" stroke-dasharray="6,4"/><text x="{}" y="{}" fill="#444">{}</text>"##,
                LEFT + plot_w,
                LEFT + 4.0,
                py(h.y) - 4.0,
                escape(&h.label),
                y = py(h.y)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() {
        (lo, if hi > lo { hi } else { lo + 1.0 })
    } else {
        (0.0, 1.0)
    }
}

/// Rounds up to 1, 2 or 5 times a power of ten, so y ticks read well.
fn nice_ceiling(y: f64) -> f64 {
    if y <= 0.0 || !y.is_finite() {
        return 1.0;
    }
    let base = 10f64.powf(y.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|&v| v >= y)
        .unwrap_or(10.0 * base)
}

fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_one_polyline_per_series_and_the_reference_line() {
        let chart = Chart {
            title: "GFLOP/s <by size>".into(),
            x_label: "n".into(),
            y_label: "GFLOP/s".into(),
            log_x: true,
            series: vec![
                Series {
                    label: "packed".into(),
                    points: vec![(32.0, 50.0), (64.0, 150.0)],
                },
                Series {
                    label: "naive".into(),
                    points: vec![(32.0, 2.0), (64.0, 2.5)],
                },
            ],
            hlines: vec![HLine {
                label: "peak".into(),
                y: 265.0,
            }],
        };
        let svg = chart.to_svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("stroke-dasharray") && svg.contains(">peak<"));
        assert!(svg.contains("&lt;by size&gt;"), "title is escaped");
        assert_eq!(nice_ceiling(265.0), 500.0);
        assert_eq!(nice_ceiling(0.8), 1.0);
    }
}
