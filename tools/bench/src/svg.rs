//! Self-contained SVG chart of latency by percentile, drawn the way
//! HdrHistogram's plotter draws it: the x axis is `log10(1 / (1 - p))`, so
//! 0%, 90%, 99%, 99.9%, ... are evenly spaced.

use std::fmt::Write as _;

/// One line of the chart.
pub struct Series {
    pub name: String,
    /// (percentile as a fraction in 0..=1, latency in milliseconds).
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 960.0;
const H: f64 = 540.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 70.0;

const COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

/// Percentile label of decade `d`: 0 -> "0%", 1 -> "90%", 2 -> "99%", ...
fn decade_label(d: u32) -> String {
    match d {
        0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        _ => format!("99.{}%", "9".repeat(d as usize - 2)),
    }
}

fn x_of(p: f64) -> f64 {
    (1.0 / (1.0 - p)).log10()
}

/// A "nice" axis maximum and tick step at or above `max`.
fn nice_axis(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 {
        return (1.0, 0.2);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Renders the chart. Points at percentile 1.0 (infinitely far right) are
/// left out, as HdrHistogram's plotter does.
pub fn render(title: &str, series: &[Series]) -> String {
    let usable: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|(p, v)| *p < 1.0 && v.is_finite())
                .map(|(p, v)| (x_of(*p), *v))
                .collect()
        })
        .collect();
    let data_xmax = usable
        .iter()
        .flatten()
        .map(|(x, _)| *x)
        .fold(0.0f64, f64::max);
    let decades = (data_xmax.ceil() as u32).clamp(5, 9);
    let xmax = f64::from(decades);
    let ymax_data = usable
        .iter()
        .flatten()
        .filter(|(x, _)| *x <= xmax)
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max);
    let (ymax, ystep) = nice_axis(ymax_data);

    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + x.min(xmax) / xmax * pw;
    let py = |y: f64| TOP + ph - (y / ymax).min(1.0) * ph;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    // Grid and y ticks.
    let mut y = 0.0;
    while y <= ymax + ystep * 1e-9 {
        let yy = py(y);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e0e0e0"/>"##,
            LEFT + pw
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            yy + 4.0,
            fmt_num(y)
        );
        y += ystep;
    }
    // x ticks at each decade.
    for d in 0..=decades {
        let xx = px(f64::from(d));
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#e0e0e0"/>"##,
            TOP + ph
        );
        let _ = writeln!(
            out,
            r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + ph + 18.0,
            decade_label(d)
        );
    }
    // Axes.
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">Percentile</text>"#,
        LEFT + pw / 2.0,
        H - 22.0
    );
    let _ = writeln!(
        out,
        r#"<text x="20" y="{:.1}" text-anchor="middle" transform="rotate(-90 20 {:.1})">Latency (milliseconds)</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    // Lines.
    for (i, (s, pts)) in series.iter().zip(&usable).enumerate() {
        if pts.is_empty() {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        let mut d = String::new();
        for (x, v) in pts {
            if *x > xmax {
                break;
            }
            let _ = write!(d, "{:.1},{:.1} ", px(*x), py(*v));
        }
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            d.trim_end(),
            esc(&s.name)
        );
    }
    // Legend.
    let lx = LEFT + 14.0;
    let mut ly = TOP + 14.0;
    let legend_w = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0) as f64
        * 7.0
        + 40.0;
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{:.1}" width="{legend_w:.1}" height="{:.1}" fill="white" fill-opacity="0.85" stroke="#999"/>"##,
        lx - 6.0,
        ly - 10.0,
        series.len() as f64 * 18.0 + 4.0
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/>"#,
            lx + 22.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 28.0,
            ly + 4.0,
            esc(&s.name)
        );
        ly += 18.0;
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_positions() {
        assert_eq!(decade_label(0), "0%");
        assert_eq!(decade_label(1), "90%");
        assert_eq!(decade_label(2), "99%");
        assert_eq!(decade_label(3), "99.9%");
        assert_eq!(decade_label(5), "99.999%");
        assert!((x_of(0.0) - 0.0).abs() < 1e-12);
        assert!((x_of(0.99) - 2.0).abs() < 1e-9);
        assert!((x_of(0.99999) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn nice_axis_covers_max() {
        for max in [0.003, 0.9, 1.0, 7.3, 42.0, 999.0] {
            let (m, step) = nice_axis(max);
            assert!(
                m >= max && step > 0.0 && m / step <= 10.5,
                "{max} -> {m} {step}"
            );
        }
    }

    #[test]
    fn renders_every_series_with_legend() {
        let a = Series {
            name: "redis get".into(),
            points: vec![
                (0.0, 0.1),
                (0.5, 0.2),
                (0.99, 0.5),
                (0.999, 1.0),
                (1.0, 3.0),
            ],
        };
        let b = Series {
            name: "shard<cache> get".into(),
            points: vec![(0.0, 0.05), (0.9, 0.1), (0.9999, 0.4)],
        };
        let svg = render("GET latency", &[a, b]);
        assert!(svg.starts_with("<svg "));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("redis get"));
        assert!(svg.contains("shard&lt;cache&gt; get"));
        for l in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"] {
            assert!(svg.contains(&format!(">{l}</text>")), "{l}");
        }
    }
}
