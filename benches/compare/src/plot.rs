//! Plain SVG charts (no plotting dependency): grouped horizontal bars for the ratios, and
//! line charts for the scaling runs.

use std::fmt::Write;

const PALETTE: [&str; 7] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
];
const FONT: &str = "font-family=\"sans-serif\" font-size=\"12\"";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A bar chart: one group of bars per label (one bar per series, `None` = no bar), values on
/// a log2 axis around 1 with a line at 1 ("parity").
pub fn bars(
    title: &str,
    x_label: &str,
    labels: &[String],
    series: &[(&str, Vec<Option<f64>>)],
) -> String {
    let (left, right, top, bar_h, gap) = (440.0, 40.0, 60.0, 12.0, 10.0);
    let width = 1000.0;
    let group_h = bar_h * series.len() as f64 + gap;
    let height = top + group_h * labels.len() as f64 + 50.0;
    let plot_w = width - left - right;
    let values = series.iter().flat_map(|(_, v)| v.iter().flatten().copied());
    let max = values.fold(1.0f64, |m, v| m.max(v.max(1.0 / v)));
    let span = max.log2().ceil().max(1.0); // the axis runs 2^-span .. 2^span
    let x = |v: f64| left + plot_w * (v.log2() + span) / (2.0 * span);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" {FONT}>\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>",
        width / 2.0,
        esc(title)
    );
    for i in -(span as i32)..=(span as i32) {
        let v = 2f64.powi(i);
        let gx = x(v);
        let _ = write!(
            s,
            "<line x1=\"{gx}\" y1=\"{}\" x2=\"{gx}\" y2=\"{}\" stroke=\"{}\"/>\
             <text x=\"{gx}\" y=\"{}\" text-anchor=\"middle\">{}x</text>",
            top - 8.0,
            height - 40.0,
            if i == 0 { "#000" } else { "#ddd" },
            height - 26.0,
            if v >= 1.0 {
                format!("{v}")
            } else {
                format!("1/{}", 1.0 / v)
            }
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        left + plot_w / 2.0,
        height - 8.0,
        esc(x_label)
    );
    for (gi, label) in labels.iter().enumerate() {
        let gy = top + group_h * gi as f64;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            gy + group_h / 2.0,
            esc(label)
        );
        for (si, (_, vals)) in series.iter().enumerate() {
            let Some(v) = vals[gi] else { continue };
            let (x0, x1) = (x(1.0), x(v));
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
                x0.min(x1),
                gy + bar_h * si as f64,
                (x1 - x0).abs().max(1.0),
                bar_h - 2.0,
                PALETTE[si % PALETTE.len()]
            );
        }
    }
    legend(&mut s, left, 40.0, series.iter().map(|(n, _)| *n));
    s.push_str("</svg>\n");
    s
}

fn legend<'a>(s: &mut String, mut x: f64, y: f64, names: impl Iterator<Item = &'a str>) {
    for (i, n) in names.enumerate() {
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{y}\">{}</text>",
            y - 9.0,
            PALETTE[i % PALETTE.len()],
            x + 14.0,
            esc(n)
        );
        x += 24.0 + 7.0 * n.len() as f64;
    }
}

/// A line chart of `series` (name, points); `log_x` puts x on a log10 axis.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let (width, height, left, right, top, bottom) = (720.0, 420.0, 70.0, 30.0, 60.0, 50.0);
    let pts = || series.iter().flat_map(|(_, p)| p.iter().copied());
    let fx = |v: f64| if log_x { v.log10() } else { v };
    let (mut x0, mut x1) = pts().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
        (a.min(fx(x)), b.max(fx(x)))
    });
    if x0 >= x1 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    let y1 = pts().fold(0.0f64, |m, (_, y)| m.max(y)) * 1.1;
    let y1 = if y1 > 0.0 { y1 } else { 1.0 };
    let px = |x: f64| left + (width - left - right) * (fx(x) - x0) / (x1 - x0);
    let py = |y: f64| height - bottom - (height - top - bottom) * y / y1;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" {FONT}>\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#000\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#000\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{}</text>",
        width / 2.0,
        esc(title),
        height - bottom,
        width - right,
        height - bottom,
        height - bottom,
        (left + width - right) / 2.0,
        height - 10.0,
        esc(x_label),
        (top + height - bottom) / 2.0,
        (top + height - bottom) / 2.0,
        esc(y_label)
    );
    // x ticks at every distinct x of the data; y ticks at fifths.
    let mut xs: Vec<f64> = pts().map(|(x, _)| x).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    for x in xs {
        let label = if x >= 1e6 {
            format!("{}M", x / 1e6)
        } else if x >= 1e3 {
            format!("{}k", x / 1e3)
        } else {
            format!("{x}")
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            px(x),
            height - bottom + 16.0
        );
    }
    for i in 0..=5 {
        let y = y1 * i as f64 / 5.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#eee\"/>\
             <text x=\"{2}\" y=\"{3}\" text-anchor=\"end\">{4}</text>",
            py(y),
            width - right,
            left - 6.0,
            py(y) + 4.0,
            short(y)
        );
    }
    for (i, (_, p)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = p
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        for &(x, y) in p {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                px(x),
                py(y)
            );
        }
    }
    legend(
        &mut s,
        left + 10.0,
        44.0,
        series.iter().map(|(n, _)| n.as_str()),
    );
    s.push_str("</svg>\n");
    s
}

/// A compact number for an axis.
fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
