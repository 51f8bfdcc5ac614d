use clap::Parser;

fn main() {
    let cli = match vitality_publish::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Usage mistakes are bad input (exit 1) like any other; help and --version succeed.
            if !err.use_stderr() {
                std::process::exit(0);
            }
            let args: Vec<String> = std::env::args().collect();
            if vitality_publish::cli::asks_for_json(&args) {
                let doc = vitality_publish::cli::error_document(
                    &vitality_publish::cli::usage_error(&err),
                );
                println!("{doc:#}");
            }
            std::process::exit(1);
        }
    };
    std::process::exit(vitality_publish::cli::main(cli));
}
