//! Writes report mail for `report import` tests and benchmarks (issue 12):
//! `report_corpus mbox FILE COUNT`, `report_corpus maildir DIR COUNT`, or
//! `report_corpus totals COUNT` (per domain, the messages the reports count, as JSON).

use std::io::Write as _;

use monban_report::corpus;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: report_corpus mbox FILE COUNT | maildir DIR COUNT | totals COUNT";
    let count = |s: Option<&String>| -> u64 {
        s.and_then(|c| c.parse().ok()).unwrap_or_else(|| {
            eprintln!("{usage}");
            std::process::exit(2)
        })
    };
    match args.first().map(String::as_str) {
        Some("mbox") if args.len() == 3 => {
            let f = std::fs::File::create(&args[1]).expect("create the mbox");
            let mut w = std::io::BufWriter::new(f);
            corpus::write_mbox(&mut w, count(args.get(2))).expect("write the mbox");
            w.flush().expect("write the mbox");
        }
        Some("maildir") if args.len() == 3 => {
            let dir = std::path::Path::new(&args[1]);
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(dir.join(sub)).expect("create the Maildir");
            }
            for n in 0..count(args.get(2)) {
                std::fs::write(
                    dir.join("new").join(format!("{n}.corpus:2,")),
                    corpus::report_mail(n),
                )
                .expect("write a message");
            }
        }
        Some("totals") if args.len() == 2 => {
            let totals = corpus::expected_messages(count(args.get(1)));
            println!("{}", serde_json::to_string(&totals).unwrap());
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
