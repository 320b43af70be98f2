//! `scaivault completions SHELL` (a completion script on stdout, clap_complete) and `scaivault
//! man --out DIR` (a roff man page per command and subcommand, clap_mangen), both generated
//! from the same command definition as `--help`.

use std::path::Path;

/// Prints the completion script of `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut cmd = super::help::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "scaivault", &mut out);
    super::output::raw(&out)?;
    Ok(())
}

/// Writes `scaivault.1`, `scaivault-secret.1`, `scaivault-secret-get.1`, … into `dir`.
pub fn man_pages(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let cmd = super::help::command();
    let mut written = 0;
    write_page(&cmd, "scaivault", dir, &mut written)?;
    super::output::line(format_args!(
        "wrote {written} man pages to {}",
        dir.display()
    ))?;
    Ok(())
}

/// Writes the page of `cmd` (named `name`) and, recursively, of its subcommands.
fn write_page(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut usize,
) -> anyhow::Result<()> {
    let cmd = cmd.clone().name(name.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, page)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_page(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
