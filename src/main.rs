use clap::Parser;

fn main() {
    let code = match vitality_publish::cli::Cli::try_parse() {
        Ok(cli) => vitality_publish::cli::main(cli),
        Err(err) => vitality_publish::cli::command_line_rejected(&err),
    };
    std::process::exit(code);
}
