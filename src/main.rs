use clap::Parser;

fn main() {
    let cli = match vitality_publish::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Usage mistakes are bad input (exit 1) like any other; help and --version succeed.
            std::process::exit(if err.use_stderr() { 1 } else { 0 });
        }
    };
    std::process::exit(vitality_publish::cli::main(cli));
}
