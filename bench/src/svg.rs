//! The latency plot: a hand-written SVG of write latency percentiles (p50
//! solid, p99 dashed, p99.9 dotted, log scale) per concurrency level, one
//! colour per system, with writes per second as grouped bars below.

use std::fmt::Write as _;

use super::report::{BenchReport, WriteLevel, SYNOD};

const W: f64 = 760.0;
const H: f64 = 600.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 180.0;
// Latency panel.
const LAT_TOP: f64 = 60.0;
const LAT_BOTTOM: f64 = 330.0;
// Throughput panel.
const TPUT_TOP: f64 = 400.0;
const TPUT_BOTTOM: f64 = 540.0;

/// Picks one percentile of a write level.
type Percentile = fn(&WriteLevel) -> f64;

const PALETTE: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn colour(report: &BenchReport, i: usize) -> &'static str {
    // Synod is always blue, others take the remaining colours in order.
    if report.systems[i].name == SYNOD {
        return PALETTE[0];
    }
    let others = report.systems[..i]
        .iter()
        .filter(|s| s.name != SYNOD)
        .count();
    PALETTE[1 + others % (PALETTE.len() - 1)]
}

/// XML-escapes text.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

fn fmt_ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The plot for `report`.
pub fn latency_svg(report: &BenchReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15" font-weight="bold">Write latency by concurrency ({} members, loopback, fsync on, {}-byte values)</text>"#,
        W / 2.0,
        report.members,
        report.value_bytes
    );
    let _ = writeln!(
        o,
        r##"<text x="{}" y="42" text-anchor="middle" fill="#555">{} cores, {}; election timeout {} ms</text>"##,
        W / 2.0,
        report.machine.cores,
        escape(&report.machine.cpu),
        report.election_timeout_ms
    );

    let mut levels: Vec<usize> = report
        .systems
        .iter()
        .flat_map(|s| s.writes.iter().map(|w| w.concurrency))
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let values: Vec<f64> = report
        .systems
        .iter()
        .flat_map(|s| s.writes.iter())
        .flat_map(|w| [w.p50_ms, w.p99_ms, w.p999_ms])
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    if levels.is_empty() || values.is_empty() {
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" text-anchor="middle">no write measurements</text>"#,
            W / 2.0,
            H / 2.0
        );
        o.push_str("</svg>\n");
        return o;
    }

    let plot_w = W - LEFT - RIGHT;
    let x_of = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / levels.len() as f64;
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let lo_dec = lo.log10().floor();
    let mut hi_dec = hi.log10().ceil();
    if hi_dec <= lo_dec {
        hi_dec = lo_dec + 1.0;
    }
    let y_of = |v: f64| {
        let f = (v.max(1e-12).log10() - lo_dec) / (hi_dec - lo_dec);
        LAT_BOTTOM - f * (LAT_BOTTOM - LAT_TOP)
    };

    // Axes and grid.
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{LAT_TOP}" width="{plot_w}" height="{}" fill="none" stroke="#999"/>"##,
        LAT_BOTTOM - LAT_TOP
    );
    let mut d = lo_dec;
    while d <= hi_dec {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powf(d);
            let y = y_of(v);
            if !(LAT_TOP - 0.5..=LAT_BOTTOM + 0.5).contains(&y) {
                continue;
            }
            let _ = writeln!(
                o,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}"/>"##,
                LEFT + plot_w,
                if m == 1.0 { "#ccc" } else { "#eee" }
            );
            let _ = writeln!(
                o,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                y + 4.0,
                fmt_ms(v)
            );
        }
        d += 1.0;
    }
    let _ = writeln!(
        o,
        r#"<text transform="translate(22,{}) rotate(-90)" text-anchor="middle">latency, ms (log)</text>"#,
        (LAT_TOP + LAT_BOTTOM) / 2.0
    );
    for (i, c) in levels.iter().enumerate() {
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{c}</text>"#,
            x_of(i),
            LAT_BOTTOM + 18.0
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle">concurrent writers</text>"#,
        LEFT + plot_w / 2.0,
        LAT_BOTTOM + 36.0
    );

    // One polyline per system and percentile.
    let styles: [(&str, &str, Percentile); 3] = [
        ("p50", "", |w| w.p50_ms),
        ("p99", r#" stroke-dasharray="7,4""#, |w| w.p99_ms),
        ("p99.9", r#" stroke-dasharray="2,3""#, |w| w.p999_ms),
    ];
    for (si, s) in report.systems.iter().enumerate() {
        let col = colour(report, si);
        let mut ws: Vec<_> = s.writes.iter().collect();
        ws.sort_by_key(|w| w.concurrency);
        for (name, dash, get) in &styles {
            let pts: Vec<(f64, f64, f64, usize)> = ws
                .iter()
                .filter_map(|w| {
                    let i = levels.iter().position(|&c| c == w.concurrency)?;
                    let v = get(w);
                    (v > 0.0).then(|| (x_of(i), y_of(v), v, w.concurrency))
                })
                .collect();
            let path: Vec<String> = pts
                .iter()
                .map(|p| format!("{:.1},{:.1}", p.0, p.1))
                .collect();
            let _ = writeln!(
                o,
                r#"<polyline points="{}" fill="none" stroke="{col}" stroke-width="2"{dash}/>"#,
                path.join(" ")
            );
            for (x, y, v, c) in pts {
                let _ = writeln!(
                    o,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{col}"><title>{} {name} at {c} writers: {v:.3} ms</title></circle>"#,
                    escape(&s.name)
                );
            }
        }
    }

    // Legend.
    let lx = LEFT + plot_w + 20.0;
    let mut ly = LAT_TOP + 10.0;
    for (si, s) in report.systems.iter().enumerate() {
        if s.writes.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            r#"<rect x="{lx}" y="{:.1}" width="14" height="10" fill="{}"/><text x="{}" y="{:.1}">{}</text>"#,
            ly - 9.0,
            colour(report, si),
            lx + 20.0,
            ly,
            escape(&s.name)
        );
        ly += 20.0;
    }
    ly += 6.0;
    for (name, dash, _) in &styles {
        let _ = writeln!(
            o,
            r##"<line x1="{lx}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#333" stroke-width="2"{dash}/><text x="{}" y="{:.1}">{name}</text>"##,
            ly - 4.0,
            lx + 28.0,
            ly - 4.0,
            lx + 34.0,
            ly
        );
        ly += 20.0;
    }

    // Throughput bars.
    let max_tput = report
        .systems
        .iter()
        .flat_map(|s| s.writes.iter().map(|w| w.ops_per_sec))
        .fold(0.0, f64::max)
        .max(1.0);
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{TPUT_TOP}" width="{plot_w}" height="{}" fill="none" stroke="#999"/>"##,
        TPUT_BOTTOM - TPUT_TOP
    );
    let _ = writeln!(
        o,
        r#"<text transform="translate(22,{}) rotate(-90)" text-anchor="middle">writes/s</text>"#,
        (TPUT_TOP + TPUT_BOTTOM) / 2.0
    );
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" text-anchor="end">{:.0}</text><text x="{}" y="{}" text-anchor="end">0</text>"#,
        LEFT - 6.0,
        TPUT_TOP + 4.0,
        max_tput,
        LEFT - 6.0,
        TPUT_BOTTOM + 4.0
    );
    let n_sys = report.systems.len().max(1) as f64;
    let slot = plot_w / levels.len() as f64;
    let bar_w = (slot * 0.7 / n_sys).min(40.0);
    for (si, s) in report.systems.iter().enumerate() {
        for w in &s.writes {
            let Some(i) = levels.iter().position(|&c| c == w.concurrency) else {
                continue;
            };
            let h = (TPUT_BOTTOM - TPUT_TOP) * w.ops_per_sec / max_tput;
            let x = x_of(i) - bar_w * n_sys / 2.0 + bar_w * si as f64;
            let _ = writeln!(
                o,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{} at {} writers: {:.0} writes/s</title></rect>"#,
                TPUT_BOTTOM - h,
                bar_w - 2.0,
                colour(report, si),
                escape(&s.name),
                w.concurrency,
                w.ops_per_sec
            );
            let _ = writeln!(
                o,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{:.0}</text>"#,
                x + bar_w / 2.0 - 1.0,
                TPUT_BOTTOM - h - 3.0,
                w.ops_per_sec
            );
        }
    }
    for (i, c) in levels.iter().enumerate() {
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{c}</text>"#,
            x_of(i),
            TPUT_BOTTOM + 18.0
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle">concurrent writers</text>"#,
        LEFT + plot_w / 2.0,
        TPUT_BOTTOM + 36.0
    );
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::{load, sample};
    use super::super::report::{BenchReport, ETCD};
    use super::*;
    use std::time::Duration;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn plot_has_a_line_per_system_and_percentile() {
        let mut r = sample();
        r.add_write_level(SYNOD, &load(1, 2000, &[1]));
        r.add_write_level(SYNOD, &load(16, 6000, &[3]));
        r.machine.cpu = "CPU <&>".into();
        let svg = latency_svg(&r);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // 2 systems x 3 percentiles.
        assert_eq!(svg.matches("<polyline").count(), 6);
        // A marker per point: (2 + 2 levels) x 3 percentiles.
        assert_eq!(svg.matches("<circle").count(), 12);
        // A bar per level per system.
        assert_eq!(svg.matches("writes/s</title></rect>").count(), 4);
        assert!(svg.contains("etcd p99 at 16 writers: 20.000 ms"), "{svg}");
        assert!(svg.contains("CPU &lt;&amp;&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // Synod keeps the first colour whatever the order.
        assert!(svg.contains(r##"fill="#1f77b4"><title>synod"##));
        // Balanced tags, the way a strict parser counts them.
        assert_eq!(svg.matches("<svg").count(), svg.matches("</svg>").count());
        assert_eq!(
            svg.matches("<title>").count(),
            svg.matches("</title>").count()
        );
    }

    #[test]
    fn empty_and_single_value_reports_still_draw() {
        let r = BenchReport::new(3, 70, Duration::from_millis(50), Duration::from_millis(500));
        assert!(latency_svg(&r).contains("no write measurements"));
        let mut r = r;
        r.add_write_level(ETCD, &load(1, 10, &[5]));
        let svg = latency_svg(&r);
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(!svg.contains("NaN"));
    }
}
