use clap::Parser;

fn main() {
    let cli = vitality_publish::cli::Cli::parse();
    std::process::exit(vitality_publish::cli::main(cli));
}
