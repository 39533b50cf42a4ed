//! The latency plot, drawn with plotters' SVG backend: write latency
//! percentiles (p50 solid, p99 dashed, p99.9 dotted, log scale) per
//! concurrency level, one colour per system, with writes per second as
//! grouped bars below and a legend on the right.
//!
//! It takes plain data ([`Plot`]); the report builds it
//! (`BenchReport::plot`). No font backend: the SVG backend writes `<text>`
//! elements and leaves their rendering to the viewer.

use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordi32;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// What the plot shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// The first heading line.
    pub title: String,
    /// The second heading line (the machine and timing).
    pub subtitle: String,
    /// One entry per system, in legend order.
    pub systems: Vec<SystemSeries>,
}

/// One system's write levels.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemSeries {
    /// The name in the legend.
    pub name: String,
    /// Drawn in the first colour whatever its position (Synod); the others
    /// take the remaining colours in order.
    pub primary: bool,
    /// Its write levels, in any order.
    pub levels: Vec<Level>,
}

/// One concurrency level of one system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Concurrent writers.
    pub concurrency: usize,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile, milliseconds.
    pub p999_ms: f64,
    /// Successful writes per second.
    pub ops_per_sec: f64,
}

const W: u32 = 760;
const H: u32 = 600;
/// Room for the heading above the panels.
const HEAD: u32 = 56;
/// Room for the legend right of the panels.
const LEGEND: u32 = 150;
/// Height of the latency panel (the throughput panel takes the rest).
const LAT_H: u32 = 330;
/// Font sizes as plotters takes them (its SVG backend writes size / 1.24).
const TEXT: f64 = 15.0;
const SMALL: f64 = 12.5;
const TITLE: f64 = 18.5;

const PALETTE: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];
const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);
const FRAME: RGBColor = RGBColor(0x99, 0x99, 0x99);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);

/// The percentiles drawn, with their line style: `None` solid, else
/// (dash, gap) in pixels.
const PERCENTILES: [(&str, Option<(u32, u32)>); 3] = [
    ("p50", None),
    ("p99", Some((7, 4))),
    ("p99.9", Some((2, 3))),
];

fn percentile(l: &Level, i: usize) -> f64 {
    match i {
        0 => l.p50_ms,
        1 => l.p99_ms,
        _ => l.p999_ms,
    }
}

impl Plot {
    fn colour(&self, i: usize) -> RGBColor {
        if self.systems[i].primary {
            return PALETTE[0];
        }
        let others = self.systems[..i].iter().filter(|s| !s.primary).count();
        PALETTE[1 + others % (PALETTE.len() - 1)]
    }

    /// Every concurrency level of any system, ascending.
    fn levels(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .systems
            .iter()
            .flat_map(|s| s.levels.iter().map(|l| l.concurrency))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
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

/// The plot as an SVG document.
pub fn latency_svg(plot: &Plot) -> std::io::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        draw(&root, plot).map_err(|e| std::io::Error::other(format!("plot: {e}")))?;
        root.present()
            .map_err(|e| std::io::Error::other(format!("plot: {e}")))?;
    }
    Ok(out)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Text of `size` in the plot's font, anchored at `pos`.
fn text(size: f64, pos: Pos) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", size).into_font()).pos(pos)
}

fn top_centre() -> Pos {
    Pos::new(HPos::Center, VPos::Top)
}

fn draw(root: &Area<'_>, plot: &Plot) -> DrawResult {
    root.fill(&WHITE)?;
    let (w, h) = (W as i32, H as i32);
    root.draw(&Text::new(
        plot.title.clone(),
        (w / 2, 12),
        TextStyle::from(("sans-serif", TITLE).into_font().style(FontStyle::Bold)).pos(top_centre()),
    ))?;
    root.draw(&Text::new(
        plot.subtitle.clone(),
        (w / 2, 34),
        text(TEXT, top_centre()).color(&GREY),
    ))?;

    let levels = plot.levels();
    let values: Vec<f64> = plot
        .systems
        .iter()
        .flat_map(|s| s.levels.iter())
        .flat_map(|l| [l.p50_ms, l.p99_ms, l.p999_ms])
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    if levels.is_empty() || values.is_empty() {
        root.draw(&Text::new(
            "no write measurements",
            (w / 2, h / 2),
            text(TEXT, top_centre()),
        ))?;
        return Ok(());
    }

    let body = root.margin(HEAD, 0, 0, 0);
    let (charts, legend) = body.split_horizontally(W - LEGEND);
    let (lat, tput) = charts.split_vertically(LAT_H);
    latency_panel(&lat, plot, &levels, &values)?;
    throughput_panel(&tput, plot, &levels)?;
    legend_panel(&legend, plot)
}

/// Width of a level's slot on the x axis, in axis units (integers, so the
/// axis takes its own key points: one per level, at the slot's centre).
const SLOT: i32 = 1000;

/// The x axis: one slot per level, centred at 0, [`SLOT`], 2 [`SLOT`], ...
fn x_axis(n: usize) -> WithKeyPoints<RangedCoordi32> {
    let n = n as i32;
    (-SLOT / 2..n * SLOT - SLOT / 2).with_key_points((0..n).map(|i| i * SLOT).collect())
}

fn latency_panel(area: &Area<'_>, plot: &Plot, levels: &[usize], values: &[f64]) -> DrawResult {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let lo_dec = lo.log10().floor() as i32;
    let hi_dec = (hi.log10().ceil() as i32).max(lo_dec + 1);
    let (y_lo, y_hi) = (10f64.powi(lo_dec), 10f64.powi(hi_dec));
    let ticks: Vec<f64> = (lo_dec..=hi_dec)
        .flat_map(|d| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(d)))
        .filter(|v| *v <= y_hi * 1.000_001)
        .collect();
    let mut chart = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(10)
        .margin_top(4)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            x_axis(levels.len()),
            (y_lo..y_hi).log_scale().with_key_points(ticks),
        )?;
    let x_label = |x: &i32| level_label(levels, *x);
    let y_label = |y: &f64| fmt_ms(*y);
    chart
        .configure_mesh()
        .bold_line_style(GRID)
        .axis_style(FRAME)
        .label_style(("sans-serif", TEXT))
        .axis_desc_style(("sans-serif", TEXT))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .x_desc("concurrent writers")
        .y_desc("latency, ms (log)")
        .draw()?;
    let x_of = |c: usize| levels.iter().position(|&l| l == c).map(|i| i as i32 * SLOT);
    for (si, s) in plot.systems.iter().enumerate() {
        let colour = plot.colour(si);
        let mut ls = s.levels.clone();
        ls.sort_by_key(|l| l.concurrency);
        for (pi, (_, dash)) in PERCENTILES.iter().enumerate() {
            let pts: Vec<(i32, f64)> = ls
                .iter()
                .filter_map(|l| {
                    let v = percentile(l, pi);
                    (v > 0.0 && v.is_finite()).then_some((x_of(l.concurrency)?, v))
                })
                .collect();
            let style = colour.stroke_width(2);
            match dash {
                None => {
                    chart.draw_series(LineSeries::new(pts.iter().copied(), style))?;
                }
                Some((d, g)) => {
                    chart.draw_series(DashedLineSeries::new(pts.iter().copied(), *d, *g, style))?;
                }
            }
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    Ok(())
}

/// The label of axis position `x`: the level whose slot is centred there.
fn level_label(levels: &[usize], x: i32) -> String {
    if x >= 0 && x % SLOT == 0 {
        levels
            .get((x / SLOT) as usize)
            .map(|c| c.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    }
}

fn throughput_panel(area: &Area<'_>, plot: &Plot, levels: &[usize]) -> DrawResult {
    let max = plot
        .systems
        .iter()
        .flat_map(|s| s.levels.iter().map(|l| l.ops_per_sec))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1.0);
    let mut chart = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(10)
        .margin_top(16)
        .margin_bottom(4)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_axis(levels.len()), 0.0..max * 1.15)?;
    let x_label = |x: &i32| level_label(levels, *x);
    let y_label = |y: &f64| format!("{y:.0}");
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(FRAME)
        .label_style(("sans-serif", TEXT))
        .axis_desc_style(("sans-serif", TEXT))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .y_labels(5)
        .x_desc("concurrent writers")
        .y_desc("writes/s")
        .draw()?;
    let n = plot.systems.len().max(1) as i32;
    let bar = (SLOT * 7 / 10 / n).min(SLOT * 3 / 10);
    for (si, s) in plot.systems.iter().enumerate() {
        let colour = plot.colour(si);
        for l in &s.levels {
            let Some(i) = levels.iter().position(|&c| c == l.concurrency) else {
                continue;
            };
            let ops = if l.ops_per_sec.is_finite() {
                l.ops_per_sec.max(0.0)
            } else {
                0.0
            };
            let x0 = i as i32 * SLOT - bar * n / 2 + bar * si as i32;
            chart.draw_series([Rectangle::new(
                [(x0 + SLOT / 100, 0.0), (x0 + bar - SLOT / 100, ops)],
                colour.filled(),
            )])?;
            chart.draw_series([Text::new(
                format!("{ops:.0}"),
                (x0 + bar / 2, ops),
                text(SMALL, Pos::new(HPos::Center, VPos::Bottom)),
            )])?;
        }
    }
    Ok(())
}

fn legend_panel(area: &Area<'_>, plot: &Plot) -> DrawResult {
    let style = text(TEXT, Pos::new(HPos::Left, VPos::Center));
    let (x, mut y) = (8, 20);
    for (si, s) in plot.systems.iter().enumerate() {
        if s.levels.is_empty() {
            continue;
        }
        area.draw(&Rectangle::new(
            [(x, y - 5), (x + 14, y + 5)],
            plot.colour(si).filled(),
        ))?;
        area.draw(&Text::new(s.name.clone(), (x + 20, y), style.clone()))?;
        y += 20;
    }
    y += 6;
    for (name, dash) in PERCENTILES {
        let pts = [(x, y), (x + 28, y)];
        let line = BLACK.mix(0.8).stroke_width(2);
        match dash {
            None => area.draw(&PathElement::new(pts, line))?,
            Some((d, g)) => area.draw(&DashedPathElement::new(pts, d, g, line))?,
        }
        area.draw(&Text::new(name, (x + 34, y), style.clone()))?;
        y += 20;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(concurrency: usize, p50_ms: f64, ops_per_sec: f64) -> Level {
        Level {
            concurrency,
            p50_ms,
            p99_ms: p50_ms * 3.0,
            p999_ms: p50_ms * 5.0,
            ops_per_sec,
        }
    }

    fn sample() -> Plot {
        Plot {
            title: "Write latency by concurrency".into(),
            subtitle: "2 cores, CPU <&>".into(),
            systems: vec![
                SystemSeries {
                    name: "etcd".into(),
                    primary: false,
                    levels: vec![level(16, 4.0, 4000.0), level(1, 2.0, 500.0)],
                },
                SystemSeries {
                    name: "synod".into(),
                    primary: true,
                    levels: vec![level(1, 1.0, 1000.0), level(16, 3.0, 6000.0)],
                },
            ],
        }
    }

    fn fill(c: RGBColor) -> String {
        format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2)
    }

    fn stroke(c: RGBColor) -> String {
        format!("stroke=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2)
    }

    /// The elements of `svg` with tag `tag` that carry `attr`.
    fn count(svg: &str, tag: &str, attr: &str) -> usize {
        svg.split('<')
            .filter(|e| e.starts_with(tag) && e.contains(attr))
            .count()
    }

    #[test]
    fn plot_has_lines_markers_bars_and_legend_per_system() {
        let svg = latency_svg(&sample()).expect("draw");
        assert!(svg.starts_with("<svg "), "{}", &svg[..80]);
        assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        let (synod, etcd) = (PALETTE[0], PALETTE[1]);
        // Synod keeps the first colour although it comes second.
        for c in [synod, etcd] {
            // A marker per level and percentile.
            assert_eq!(count(&svg, "circle", &fill(c)), 6, "{svg}");
            // Lines: a solid one and dashed segments.
            assert!(count(&svg, "polyline", &stroke(c)) >= 3, "{svg}");
            // A bar per level, and the legend's swatch.
            assert_eq!(count(&svg, "rect", &fill(c)), 3, "{svg}");
        }
        for text in [
            ">\nsynod\n</text>",
            ">\netcd\n</text>",
            ">\np50\n</text>",
            ">\np99\n</text>",
            ">\np99.9\n</text>",
            ">\nconcurrent writers\n</text>",
            ">\nlatency, ms (log)\n</text>",
            ">\nwrites/s\n</text>",
            ">\nWrite latency by concurrency\n</text>",
            // Bar values and the level labels.
            ">\n6000\n</text>",
            ">\n500\n</text>",
            ">\n16\n</text>",
        ] {
            assert!(svg.contains(text), "missing {text:?} in\n{svg}");
        }
        assert!(svg.contains("CPU &lt;&amp;&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // Balanced tags, the way a strict parser counts them.
        assert_eq!(svg.matches("<svg").count(), svg.matches("</svg>").count());
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn empty_and_single_value_plots_still_draw() {
        let mut p = Plot {
            title: "t".into(),
            subtitle: "s".into(),
            systems: Vec::new(),
        };
        assert!(latency_svg(&p)
            .expect("draw")
            .contains("no write measurements"));
        p.systems.push(SystemSeries {
            name: "etcd".into(),
            primary: false,
            levels: vec![level(1, 5.0, 10.0)],
        });
        let svg = latency_svg(&p).expect("draw");
        assert_eq!(count(&svg, "circle", &fill(PALETTE[1])), 3);
        assert!(svg.contains("<polyline"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn colours_skip_the_primary_one() {
        let mut p = sample();
        p.systems.push(SystemSeries {
            name: "third".into(),
            primary: false,
            levels: Vec::new(),
        });
        assert_eq!(
            (0..3).map(|i| p.colour(i)).collect::<Vec<_>>(),
            [PALETTE[1], PALETTE[0], PALETTE[2]]
        );
        assert_eq!(p.levels(), [1, 16]);
        assert_eq!(level_label(&[1, 16], SLOT), "16");
        assert_eq!(level_label(&[1, 16], SLOT / 2), "");
        assert_eq!(level_label(&[1, 16], 2 * SLOT), "");
        assert_eq!(fmt_ms(0.25), "0.25");
    }
}
