//! The results of a run and how they are written: the table of medians for BENCHMARKS.md,
//! the headline ratios for the README, the raw runs as TSV, and the plots.

use crate::machine::Machine;
use crate::measure::Parked;
use crate::plot;
use crate::workloads::{Better, Col, Target, Workload};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The repetitions of one cell (already in the row's unit), or why it has none.
#[derive(Default, Clone, Debug)]
pub struct Cell {
    pub runs: Vec<f64>,
    pub error: Option<String>,
}

impl Cell {
    /// The median of the runs.
    pub fn median(&self) -> Option<f64> {
        let mut v = self.runs.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }
    fn min(&self) -> f64 {
        self.runs.iter().copied().fold(f64::MAX, f64::min)
    }
    fn max(&self) -> f64 {
        self.runs.iter().copied().fold(f64::MIN, f64::max)
    }
}

/// One row of results.
pub struct Row {
    pub w: Workload,
    pub cells: BTreeMap<usize, Cell>, // keyed by the column's index in Col::ALL
}

impl Row {
    pub fn new(w: Workload) -> Row {
        Row {
            w,
            cells: BTreeMap::new(),
        }
    }
    pub fn cell(&mut self, c: Col) -> &mut Cell {
        self.cells.entry(col_index(c)).or_default()
    }
    pub fn get(&self, c: Col) -> Option<&Cell> {
        self.cells.get(&col_index(c))
    }
    fn median(&self, c: Col) -> Option<f64> {
        self.get(c).and_then(Cell::median)
    }
    /// gort's value over `c`'s.
    pub fn ratio(&self, c: Col) -> Option<f64> {
        Some(self.median(Col::Gort)? / self.median(c)?)
    }
    /// The best column other than gort, by the row's direction.
    pub fn best_peer(&self) -> Option<(Col, f64)> {
        Col::ALL
            .iter()
            .filter(|&&c| c != Col::Gort)
            .filter_map(|&c| Some((c, self.median(c)?)))
            .reduce(|a, b| {
                let b_better = match self.w.better {
                    Better::Lower => b.1 < a.1,
                    Better::Higher => b.1 > a.1,
                };
                if b_better {
                    b
                } else {
                    a
                }
            })
    }
    /// How many times better gort is than `c` (above 1: gort is ahead).
    pub fn advantage(&self, c: Col) -> Option<f64> {
        let r = self.ratio(c)?;
        Some(match self.w.better {
            Better::Lower => 1.0 / r,
            Better::Higher => r,
        })
    }
    /// Whether the DESIGN.md target is met, when it can be judged.
    pub fn target_met(&self) -> Option<bool> {
        Some(match self.w.target? {
            Target::GoAtMost(r) => self.ratio(Col::Go)? <= r,
            Target::PeerAtMost(c, r) => self.ratio(c)? <= r,
            Target::PeerAtLeast(c, r) => self.ratio(c)? >= r,
            Target::BestPeerAtLeast(r) => self.ratio(self.best_peer()?.0)? >= r,
            Target::ValueAtMost(v) => self.median(Col::Gort)? <= v,
        })
    }
    fn target_text(&self) -> String {
        match self.w.target {
            None => "—".into(),
            Some(t) => {
                let verdict = match self.target_met() {
                    Some(true) => "met",
                    Some(false) => "**not met**",
                    None => "not judged",
                };
                format!("{}: {verdict}", t.text(self.w.unit))
            }
        }
    }
}

fn col_index(c: Col) -> usize {
    Col::ALL.iter().position(|&x| x == c).expect("a column")
}

/// A value with sensible precision.
pub fn num(v: f64) -> String {
    if v >= 1000.0 {
        let s = format!("{v:.0}");
        // thousands separators
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.2}x"))
}

/// One runtime's memory per parked goroutine, and time to park them, at each count.
pub struct MemorySeries {
    pub col: Col,
    /// (count, the median of its runs or why not).
    pub points: Vec<(usize, Result<Parked, String>)>,
    /// Every run at the largest count: the RSS and park rows' cells.
    pub largest: Vec<Parked>,
}

/// One runtime's time per operation of a workload at each procs count.
pub struct ProcsSeries {
    pub title: &'static str,
    pub key: &'static str,
    pub col: Col,
    /// (procs, ns per operation, or none when every run failed).
    pub points: Vec<(usize, Option<f64>)>,
}

/// Memory per goroutine by count and runtime; throughput by procs.
pub struct Scaling {
    pub memory: Vec<MemorySeries>,
    pub procs: Vec<ProcsSeries>,
}

/// Everything a run produced.
pub struct Report<'a> {
    pub machine: &'a Machine,
    pub rows: &'a [Row],
    pub scaling: &'a Scaling,
    pub reps: usize,
    pub minutes: f64,
    pub quick: bool,
    /// Where the plots are, relative to the Markdown files.
    pub plot_dir: &'a str,
}

impl Report<'_> {
    /// The generated part of BENCHMARKS.md.
    pub fn benchmarks_md(&self) -> String {
        let mut s = String::new();
        let mut notes: Vec<String> = Vec::new();
        let mut note = |text: String| -> String {
            let i = notes.iter().position(|n| *n == text).unwrap_or_else(|| {
                notes.push(text);
                notes.len() - 1
            });
            format!("<sup>{}</sup>", i + 1)
        };
        let _ = writeln!(s, "## Side by side: `benches/compare.sh`\n");
        if self.quick {
            let _ = writeln!(
                s,
                "**Quick mode: one small run of each workload; these numbers mean nothing.**\n"
            );
        }
        let _ = writeln!(s, "**Machine:** {}.  ", self.machine.line());
        let _ = writeln!(s, "**Software:** {}.  ", self.machine.software);
        let _ = writeln!(
            s,
            "**Run:** every workload of DESIGN.md's Targets table, each runtime in its own process, \
             interleaved (gort, Go, tokio, … then again) {} time{}; each cell is the median of the \
             runs with min–max. Criterion cells are criterion's median per iteration. The whole \
             run took {:.1} minutes.\n",
            self.reps,
            if self.reps == 1 { "" } else { "s" },
            self.minutes
        );
        let _ = writeln!(
            s,
            "Ratios are gort's value over the other's, in the row's unit: below 1 is better for \
             times and memory, above 1 for rates. \"Best peer\" is the best column other than gort.\n"
        );
        let _ = write!(s, "| workload | unit |");
        for c in Col::ALL {
            let _ = write!(s, " {} |", c.name());
        }
        let _ = writeln!(s, " gort / Go | gort / best peer | target |");
        let _ = writeln!(s, "|---|---|{}---|---|---|", "---|".repeat(Col::ALL.len()));
        for row in self.rows {
            let _ = write!(s, "| {} | {} |", row.w.title, row.w.unit);
            for c in Col::ALL {
                let text = match row.get(c) {
                    Some(cell) if cell.median().is_some() => {
                        let m = cell.median().unwrap();
                        if cell.runs.len() > 1 {
                            format!("{} ({}–{})", num(m), num(cell.min()), num(cell.max()))
                        } else {
                            num(m)
                        }
                    }
                    Some(cell) => format!(
                        "failed{}",
                        note(format!(
                            "{} {}: {}",
                            c.name(),
                            row.w.key,
                            cell.error
                                .as_deref()
                                .unwrap_or("no result")
                                .lines()
                                .next()
                                .unwrap_or("")
                        ))
                    ),
                    None => "—".into(),
                };
                let text = match row.w.notes.iter().find(|(nc, _)| *nc == c) {
                    Some((_, n)) => format!("{text}{}", note(format!("{}: {n}", c.name()))),
                    None => text,
                };
                let text = if c == Col::Gort {
                    format!("**{text}**")
                } else {
                    text
                };
                let _ = write!(s, " {text} |");
            }
            let best = row.best_peer().map_or("—".into(), |(c, _)| {
                format!("{} ({})", ratio_text(row.ratio(c)), c.name())
            });
            let _ = writeln!(
                s,
                " {} | {} | {} |",
                ratio_text(row.ratio(Col::Go)),
                best,
                row.target_text()
            );
        }
        if !notes.is_empty() {
            s.push('\n');
            for (i, n) in notes.iter().enumerate() {
                let _ = writeln!(s, "{}. {n}", i + 1);
            }
        }
        let _ = writeln!(
            s,
            "\nThe rows \"between threads\" compare gort's channels used from plain threads with the \
             thread channel libraries; the gort column holds gort's thread numbers there.\n"
        );
        let _ = writeln!(
            s,
            "![gort against Go and the best peer]({}/ratios.svg)\n",
            self.plot_dir
        );
        self.scaling_md(&mut s);
        s
    }

    fn scaling_md(&self, s: &mut String) {
        let m = &self.scaling.memory;
        if !m.is_empty() {
            let counts: Vec<usize> = m[0].points.iter().map(|(n, _)| *n).collect();
            /// A table's title and how it shows one measurement.
            type Table = (&'static str, fn(&Parked) -> String);
            let tables: [Table; 2] = [
                (
                    "Memory per parked goroutine by count: KiB of RSS + page tables (RSS alone)",
                    |p| format!("{} ({})", num(p.total), num(p.rss)),
                ),
                (
                    "Time to spawn the goroutines and see them all parked, by count (ms)",
                    |p| num(p.secs * 1e3),
                ),
            ];
            for (title, cell) in tables {
                let _ = writeln!(s, "### {title}\n");
                let _ = write!(s, "| runtime |");
                for n in &counts {
                    let _ = write!(s, " {} |", num(*n as f64));
                }
                let _ = writeln!(s, "\n|---|{}", "---|".repeat(counts.len()));
                for series in m {
                    let _ = write!(s, "| {} |", series.col.name());
                    for (_, v) in &series.points {
                        let _ = write!(
                            s,
                            " {} |",
                            match v {
                                Ok(p) => cell(p),
                                Err(e) =>
                                    format!("failed: {}", e.lines().last().unwrap_or("").trim()),
                            }
                        );
                    }
                    s.push('\n');
                }
                s.push('\n');
            }
            let _ = writeln!(
                s,
                "\n![memory per goroutine]({}/memory.svg)\n",
                self.plot_dir
            );
        }
        let p = &self.scaling.procs;
        if !p.is_empty() {
            let mut procs: Vec<usize> = p
                .iter()
                .flat_map(|e| e.points.iter().map(|(n, _)| *n))
                .collect();
            procs.sort_unstable();
            procs.dedup();
            let _ = writeln!(
                s,
                "### Throughput by procs: row x procs (million per second)\n\n\
                 GOMAXPROCS for gort and Go, the worker count for may; counts above the {} \
                 cores are oversubscribed. Each cell is the median of the runs.\n",
                self.machine.cores
            );
            let _ = write!(s, "| row | runtime |");
            for n in &procs {
                let _ = write!(s, " procs={n} |");
            }
            let _ = writeln!(s, "\n|---|---|{}", "---|".repeat(procs.len()));
            for series in p {
                let _ = write!(s, "| {} | {} |", series.title, series.col.name());
                for n in &procs {
                    let v = series.points.iter().find(|(q, _)| q == n);
                    let text = match v {
                        Some((_, Some(ns))) => num(1e3 / ns),
                        Some((_, None)) => "failed".into(),
                        None => "—".into(),
                    };
                    let _ = write!(s, " {text} |");
                }
                s.push('\n');
            }
            s.push('\n');
            let mut keys: Vec<&'static str> = p.iter().map(|e| e.key).collect();
            keys.dedup();
            for key in keys {
                let _ = writeln!(
                    s,
                    "![throughput by procs: {key}]({}/procs_{key}.svg)",
                    self.plot_dir
                );
            }
            s.push('\n');
        }
    }

    /// The generated part of the README's Performance section.
    pub fn readme_md(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Measured by `benches/compare.sh` on {} ({}; median of {} interleaved runs; the whole \
             comparison took {:.0} minutes). Ratios are gort's value over the other's: below 1 is \
             better for times and memory, above 1 for rates. Full table, notes and scaling plots: \
             [BENCHMARKS.md](BENCHMARKS.md).\n",
            self.machine.line(),
            self.machine.software,
            self.reps,
            self.minutes.ceil()
        );
        let _ = writeln!(s, "| workload | gort / Go | gort / best peer | target |");
        let _ = writeln!(s, "|---|---|---|---|");
        for row in self.rows {
            let best = row.best_peer().map_or("—".into(), |(c, _)| {
                format!("{} ({})", ratio_text(row.ratio(c)), c.name())
            });
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                row.w.title,
                ratio_text(row.ratio(Col::Go)),
                best,
                row.target_text()
            );
        }
        let _ = writeln!(
            s,
            "\n![gort against Go and the best peer]({}/ratios.svg)",
            self.plot_dir
        );
        s
    }

    /// The raw runs, one line per measurement.
    pub fn tsv(&self) -> String {
        let mut s = String::from("workload\tunit\truntime\trun\tvalue\n");
        for row in self.rows {
            for c in Col::ALL {
                if let Some(cell) = row.get(c) {
                    for (i, v) in cell.runs.iter().enumerate() {
                        let _ = writeln!(
                            s,
                            "{}\t{}\t{}\t{}\t{v}",
                            row.w.key,
                            row.w.unit,
                            c.name(),
                            i + 1
                        );
                    }
                }
            }
        }
        s
    }

    /// (file name, SVG) of every plot.
    pub fn plots(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.median(Col::Gort).is_some())
            .collect();
        let labels: Vec<String> = rows.iter().map(|r| r.w.title.to_string()).collect();
        let vs_go: Vec<Option<f64>> = rows.iter().map(|r| r.advantage(Col::Go)).collect();
        let vs_best: Vec<Option<f64>> = rows
            .iter()
            .map(|r| r.best_peer().and_then(|(c, _)| r.advantage(c)))
            .collect();
        out.push((
            "ratios.svg".into(),
            plot::bars(
                &format!("gort's advantage ({})", self.machine.line()),
                "times better than the other (right of 1x: gort ahead)",
                &labels,
                &[("vs Go", vs_go), ("vs best peer", vs_best)],
            ),
        ));
        let mem: Vec<(String, Vec<(f64, f64)>)> = self
            .scaling
            .memory
            .iter()
            .map(|series| {
                let p = series
                    .points
                    .iter()
                    .filter_map(|(n, v)| Some((*n as f64, v.as_ref().ok()?.total)))
                    .collect();
                (series.col.name().to_string(), p)
            })
            .filter(|(_, p): &(String, Vec<(f64, f64)>)| !p.is_empty())
            .collect();
        if !mem.is_empty() {
            out.push((
                "memory.svg".into(),
                plot::lines(
                    "RSS + page tables per parked goroutine",
                    "goroutines parked",
                    "KiB each",
                    true,
                    &mem,
                ),
            ));
        }
        let mut keys: Vec<&'static str> = self.scaling.procs.iter().map(|e| e.key).collect();
        keys.dedup();
        for key in keys {
            let entries: Vec<_> = self.scaling.procs.iter().filter(|e| e.key == key).collect();
            let series: Vec<(String, Vec<(f64, f64)>)> = entries
                .iter()
                .map(|e| {
                    (
                        e.col.name().to_string(),
                        e.points
                            .iter()
                            .filter_map(|&(p, ns)| Some((p as f64, 1e3 / ns?)))
                            .collect(),
                    )
                })
                .collect();
            out.push((
                format!("procs_{key}.svg"),
                plot::lines(
                    entries[0].title,
                    "procs (GOMAXPROCS)",
                    "million per second",
                    false,
                    &series,
                ),
            ));
        }
        out
    }
}

/// Replaces the text between `begin` and `end` markers in `doc` (appending the section with
/// `heading` when the markers are missing).
pub fn splice(doc: &str, begin: &str, end: &str, heading: &str, body: &str) -> String {
    match (doc.find(begin), doc.find(end)) {
        (Some(b), Some(e)) if b < e => format!("{}{begin}\n{body}{}", &doc[..b], &doc[e..]),
        _ => format!("{}\n{heading}\n\n{begin}\n{body}{end}\n", doc.trim_end()),
    }
}
