//! `gort-compare`: one command that measures gort against Go, tokio, may,
//! crossbeam-channel, flume and std mpsc on every workload of DESIGN.md's Targets table, and
//! writes the results. Run it through `benches/compare.sh` (which installs Go and wrk when
//! they are missing and it may):
//!
//! ```text
//! benches/compare.sh                 # the whole comparison (about 25 minutes on 2 cores)
//! benches/compare.sh --quick         # each workload once at a small size (CI: it must run)
//! benches/compare.sh --reps 5        # more repetitions
//! benches/compare.sh --only echo,http
//! ```
//!
//! Each cell runs in its own process, and the runtimes of a row take turns (gort, Go, tokio,
//! …, then again: A B A B), so a noisy minute hurts every runtime alike. One echo run gives
//! two rows: the client's rate and the server's own CPU per message. The spawn row and the
//! goroutine channel rows run again at procs 1, 2, 4 and 8 for gort, Go and may (the "row x
//! procs" table; `--quick`: 1, 8 and the core count). A full run rewrites
//! the generated parts of `BENCHMARKS.md` and of the README's Performance section, the plots
//! under `benches/results/`, and the raw runs in `benches/results/runs.tsv`. A quick run
//! writes the same files under `target/compare-quick/` and touches nothing tracked.

mod machine;
mod measure;
mod plot;
mod report;
mod workloads;

use measure::{Lab, Parked, Sizes};
use report::{MemorySeries, ProcsSeries, Report, Row, Scaling};
use std::path::{Path, PathBuf};
use std::time::Instant;
use workloads::{Col, How};

struct Args {
    quick: bool,
    reps: usize,
    only: Option<Vec<String>>,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: benches/compare.sh [--quick] [--reps N] [--only KEY,KEY...]\nkeys: {}",
        workloads::all()
            .iter()
            .map(|w| w.key)
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::process::exit(2)
}

fn parse() -> Args {
    let mut a = Args {
        quick: false,
        reps: 3,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    let mut reps_given = false;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--reps" => {
                a.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n >= 1)
                    .unwrap_or_else(|| usage("--reps needs a positive number"));
                reps_given = true;
            }
            "--only" => {
                let keys: Vec<String> = it
                    .next()
                    .unwrap_or_else(|| usage("--only needs keys"))
                    .split(',')
                    .map(str::to_string)
                    .collect();
                for k in &keys {
                    if !workloads::all().iter().any(|w| w.key == k) {
                        usage(&format!("unknown workload {k:?}"));
                    }
                }
                a.only = Some(keys);
            }
            "-h" | "--help" => usage("gort-compare: gort side by side with its peers"),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if a.quick && !reps_given {
        a.reps = 1;
    }
    a
}

fn main() {
    let args = parse();
    let started = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("repository root");
    let sizes = if args.quick {
        Sizes {
            warm_up: 0.05,
            measure: 0.1,
            net_secs: 0.3,
            ticks: 30,
            rss_counts: vec![1_000],
            spawn_handles: 100_000,
            timer_conns: 1_000,
        }
    } else {
        Sizes {
            warm_up: 0.5,
            measure: 2.0,
            net_secs: 4.0,
            ticks: 2_000,
            rss_counts: vec![1_000, 10_000, 100_000, 1_000_000],
            spawn_handles: 1_000_000,
            timer_conns: 10_000,
        }
    };
    let lab = Lab::build(&root, sizes).unwrap_or_else(|e| {
        eprintln!("compare: {e}");
        std::process::exit(1)
    });
    let machine = machine::Machine::probe(&root);
    eprintln!("compare: {}; {}", machine.line(), machine.software);

    let selected: Vec<_> = workloads::all()
        .into_iter()
        .filter(|w| {
            args.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|k| k == w.key))
        })
        .collect();

    // Memory first: its largest count is the RSS row and the park row. Each count runs
    // `reps` times, the runtimes taking turns (a page-commit stall of the VM or a
    // reclaim after the build then lands on one run, not on one runtime); a point is the
    // median of its runs.
    let mut scaling = Scaling {
        memory: Vec::new(),
        procs: Vec::new(),
    };
    if selected.iter().any(|w| w.key == "rss" || w.key == "park") {
        let cols = [Col::Gort, Col::Go, Col::Tokio, Col::May];
        let mut series: Vec<MemorySeries> = cols
            .iter()
            .map(|&col| MemorySeries {
                col,
                points: Vec::new(),
                largest: Vec::new(),
            })
            .collect();
        let largest = lab.sizes.rss_counts.iter().copied().max();
        for &n in &lab.sizes.rss_counts {
            let mut runs: Vec<Vec<Parked>> = vec![Vec::new(); cols.len()];
            let mut failed: Vec<Option<String>> = vec![None; cols.len()];
            for _ in 0..args.reps {
                for (i, &col) in cols.iter().enumerate() {
                    if failed[i].is_some() {
                        continue;
                    }
                    let r = lab.parked(col, n);
                    let total = r.as_ref().map(|p| p.total).map_err(Clone::clone);
                    progress(&format!("rss {} {n}", col.name()), &total, "KiB/goroutine");
                    match r {
                        Ok(p) => runs[i].push(p),
                        Err(e) => failed[i] = Some(e),
                    }
                }
            }
            for (i, s) in series.iter_mut().enumerate() {
                let point = match failed[i].take() {
                    Some(e) => Err(e),
                    None => Ok(Parked::median(&runs[i])),
                };
                s.points.push((n, point));
                if Some(n) == largest {
                    s.largest = std::mem::take(&mut runs[i]);
                }
            }
        }
        scaling.memory = series;
    }

    let mut rows = Vec::new();
    for w in selected {
        let mut row = Row::new(w.clone());
        for rep in 0..args.reps {
            for (col, how) in &w.cells {
                if let How::Rss | How::Park = how {
                    // Measured above, every run at the largest count: the cell shows the
                    // median with its min–max like the other rows.
                    if rep > 0 {
                        continue;
                    }
                    let m = scaling.memory.iter().find(|m| m.col == *col);
                    let cell = row.cell(*col);
                    match m.and_then(|m| m.points.last().map(|(_, r)| (m, r))) {
                        Some((m, Ok(_))) => cell.runs.extend(m.largest.iter().map(|p| match how {
                            How::Rss => p.total,
                            _ => p.secs * 1e3,
                        })),
                        Some((_, Err(e))) => cell.error = Some(e.clone()),
                        None => cell.error = Some("not measured".into()),
                    }
                    continue;
                }
                let r = lab.measure(*col, how, None).map(|v| v / w.scale);
                progress(
                    &format!("{} {} run {}", w.key, col.name(), rep + 1),
                    &r,
                    w.unit,
                );
                let cell = row.cell(*col);
                match r {
                    Ok(v) => cell.runs.push(v),
                    Err(e) => cell.error = Some(e),
                }
            }
        }
        rows.push(row);
    }

    // Throughput by procs (the "row x procs" table): procs = all cores reuses the table's
    // cell when the table ran at that count.
    let cores = machine.cores;
    let scaled = workloads::scaling();
    let any_scaled = scaled.iter().any(|w| rows.iter().any(|r| r.w.key == w.key));
    let procs_list: Vec<usize> = if args.quick {
        if any_scaled {
            eprintln!(
                "compare: --quick: throughput by procs at procs 1, 8 and the core count only \
                 (the full run does 1, 2, 4, 8)"
            );
        }
        workloads::SCALING_PROCS
            .into_iter()
            .filter(|&p| p == 1 || p == 8 || p == cores)
            .collect()
    } else {
        workloads::SCALING_PROCS.to_vec()
    };
    for w in scaled {
        let Some(row) = rows.iter().find(|r| r.w.key == w.key) else {
            continue;
        };
        for (col, how) in &w.cells {
            let mut pts = Vec::new();
            for &p in &procs_list {
                let value = match row.get(*col).and_then(report::Cell::median) {
                    Some(v) if p == cores => Some(v),
                    _ => {
                        let mut cell = report::Cell::default();
                        for rep in 0..args.reps {
                            let r = lab.measure(*col, how, Some(p));
                            progress(
                                &format!("{} {} procs={p} run {}", w.key, col.name(), rep + 1),
                                &r,
                                w.unit,
                            );
                            if let Ok(v) = r {
                                cell.runs.push(v);
                            }
                        }
                        cell.median()
                    }
                };
                pts.push((p, value));
            }
            if pts.iter().any(|(_, v)| v.is_some()) {
                scaling.procs.push(ProcsSeries {
                    title: w.title,
                    key: w.key,
                    col: *col,
                    points: pts,
                });
            }
        }
    }

    let minutes = started.elapsed().as_secs_f64() / 60.0;
    // A full run updates the tracked files; a quick or partial one writes beside the build.
    let full = !args.quick && args.only.is_none();
    let (out_dir, plot_rel) = if full {
        (root.clone(), "benches/results".to_string())
    } else if args.quick {
        (lab.target.join("compare-quick"), ".".to_string())
    } else {
        (lab.target.join("compare-partial"), ".".to_string())
    };
    let plot_dir = if full {
        out_dir.join(&plot_rel)
    } else {
        out_dir.clone()
    };
    std::fs::create_dir_all(&plot_dir).expect("create the plot directory");
    let rep = Report {
        machine: &machine,
        rows: &rows,
        scaling: &scaling,
        reps: args.reps,
        minutes,
        quick: args.quick,
        plot_dir: &plot_rel,
    };
    for (name, svg) in rep.plots() {
        write(&plot_dir.join(name), &svg);
    }
    write(&plot_dir.join("runs.tsv"), &rep.tsv());
    let bench_md = rep.benchmarks_md();
    let readme_md = rep.readme_md();
    if !full {
        write(&out_dir.join("BENCHMARKS.md"), &bench_md);
        write(&out_dir.join("README-performance.md"), &readme_md);
    } else {
        splice_into(
            &root.join("BENCHMARKS.md"),
            "<!-- compare:begin -->",
            "<!-- compare:end -->",
            "## Side by side",
            &bench_md,
        );
        splice_into(
            &root.join("README.md"),
            "<!-- perf:begin -->",
            "<!-- perf:end -->",
            "## Performance",
            &readme_md,
        );
    }
    println!("{bench_md}");
    eprintln!("compare: done in {minutes:.1} minutes");
}

fn progress(what: &str, r: &Result<f64, String>, unit: &str) {
    match r {
        Ok(v) => eprintln!("compare: {what}: {} {unit}", report::num(*v)),
        Err(e) => eprintln!(
            "compare: {what}: no result: {}",
            e.lines().next().unwrap_or("")
        ),
    }
}

fn write(path: &PathBuf, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("compare: wrote {}", path.display());
}

fn splice_into(path: &PathBuf, begin: &str, end: &str, heading: &str, body: &str) {
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    write(path, &report::splice(&doc, begin, end, heading, body));
}
