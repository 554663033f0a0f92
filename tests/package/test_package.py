#!/usr/bin/python3
"""The Debian package (issue 18), built and checked as a user would meet it:

- `dpkg-buildpackage -us -uc -b` of a copy of the source builds
  dicomfs_<version>_<arch>.deb; `lintian --fail-on error` passes it;
- its file list has both binaries, both man pages and the bash completion
  (under both commands' names); its Depends come from the shared libraries
  and name fuse3;
- `man --warnings -l` renders both pages without a warning; every `-o` name
  and long option of `dicomfs --help` and `dicomfs-tool --help` is in its
  man page;
- unpacked into a scratch root (`dpkg -x`), its dicomfs prints its version
  and its completion completes `-o` names and commands;
- installed (`dpkg -i`; only where no dicomfs package or /usr/bin/dicomfs is
  there before, and purged after), `mount -t fuse.dicomfs SOURCE MNT -o ...`
  and an fstab line (`mount --fstab FILE MNT`, noauto,user) mount the
  sample archive (scripts/make-archive.py --preset sample), `umount`
  unmounts it and the daemon exits.

usage: test_package.py SOURCE_ROOT
"""
import glob
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mount"))
import mountlib as ml  # noqa: E402

WATCHDOG_SECONDS = 900


def run(argv, **kw):
    kw.setdefault("timeout", ml.scaled(600))
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def copy_source(root, dest):
    """The files git knows (tracked and new, not ignored): what a clean
    checkout has."""
    listed = run(["git", "-C", root, "ls-files", "-co", "--exclude-standard", "-z"])
    files = [f for f in listed.stdout.split("\0") if f] if listed.returncode == 0 else []
    if not files:  # not a git checkout: everything but build folders
        files = [os.path.relpath(os.path.join(d, f), root)
                 for d, ds, fs in os.walk(root) for f in fs
                 if not os.path.relpath(d, root).startswith(("build", ".git"))]
    for f in files:
        src = os.path.join(root, f)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, f))


def options_of(help_text):
    """The -o names and long options a --help lists."""
    return (set(re.findall(r"-o ([a-z_]+)", help_text)) |
            set(re.findall(r"(--[a-z][a-z-]+)", help_text)))


def man_text(page_gz):
    """A man page's source with its roff escapes undone (\\- is -)."""
    return gzip.open(page_gz).read().decode().replace("\\-", "-")


def daemons(mnt):
    out = run(["pgrep", "-f", "-a", "dicomfs"]).stdout.splitlines()
    return [int(l.split()[0]) for l in out if mnt in l and "test_package" not in l]


def mount_and_check(report, what, argv, mnt, truth_patients):
    r = run(argv, timeout=ml.scaled(120))
    problems = [] if r.returncode == 0 else [f"{' '.join(argv)}: exit {r.returncode}: {r.stderr}"]
    if not problems:
        try:
            names = sorted(n for n in os.listdir(mnt) if not n.startswith("."))
            status = open(os.path.join(mnt, ".dicomfs", "status")).read()
            if len(names) != truth_patients:
                problems.append(f"{len(names)} patients listed, {truth_patients} in the archive")
            if "scan: done" not in status:
                problems.append(f"status: {status[:200]}")
        except OSError as e:
            problems.append(f"reading the mount: {e}")
    pids = daemons(mnt)
    u = run(["umount", mnt], timeout=ml.scaled(60))
    if r.returncode == 0 and u.returncode != 0:
        problems.append(f"umount: {u.stderr.strip()}")
    for _ in range(int(ml.scaled(60) * 10)):
        if not [p for p in pids if ml.pid_alive(p)]:
            break
        time.sleep(0.1)
    else:
        problems.append(f"dicomfs {pids} still running after umount")
    report.check(what, problems)


def run_checks(report, root, tmp):
    copy = os.path.join(tmp, "src", "dicomfs")
    os.makedirs(copy)
    copy_source(root, copy)
    b = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=copy, timeout=ml.scaled(900))
    debs = glob.glob(os.path.join(tmp, "src", "dicomfs_*_*.deb"))
    report.check("dpkg-buildpackage -us -uc -b builds dicomfs_<version>_<arch>.deb",
                 [] if b.returncode == 0 and len(debs) == 1 else
                 [f"exit {b.returncode}: {(b.stdout + b.stderr)[-1500:]}"],
                 os.path.basename(debs[0]) if debs else "")
    if not debs:
        return
    deb = debs[0]
    lint = run(["lintian", "--fail-on", "error", deb], timeout=ml.scaled(300))
    report.check("lintian finds no error", lint.returncode == 0,
                 (lint.stdout.strip().replace("\n", "; ") or "no tags")[:300])
    listing = run(["dpkg-deb", "-c", deb]).stdout
    files = {line.split()[-1].lstrip(".") for line in listing.splitlines() if line.strip()}
    want = {"/usr/bin/dicomfs", "/usr/bin/dicomfs-tool", "/usr/share/man/man1/dicomfs.1.gz",
            "/usr/share/man/man1/dicomfs-tool.1.gz",
            "/usr/share/bash-completion/completions/dicomfs",
            "/usr/share/bash-completion/completions/dicomfs-tool"}
    report.check("the .deb holds the binaries, man pages and completion", sorted(want - files))
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    report.check("Depends from the shared libraries (libfuse3, libglib2.0, libhdf5 ...) and fuse3",
                 all(x in depends for x in ("libfuse3", "libglib2.0", "libhdf5", "fuse3")),
                 depends.strip()[:200])

    scratch = os.path.join(tmp, "root")
    x = run(["dpkg", "-x", deb, scratch])
    report.check("dpkg -x unpacks it into a scratch root", x.returncode == 0, x.stderr.strip())
    exe = os.path.join(scratch, "usr", "bin", "dicomfs")
    tool = os.path.join(scratch, "usr", "bin", "dicomfs-tool")
    v = run([exe, "--version"])
    report.check("the unpacked dicomfs runs: --version", "dicomfs " in v.stdout + v.stderr,
                 (v.stdout + v.stderr).strip().replace("\n", "; "))
    for page in ("dicomfs.1.gz", "dicomfs-tool.1.gz"):
        path = os.path.join(scratch, "usr", "share", "man", "man1", page)
        m = run(["man", "--warnings", "-l", path], env=dict(os.environ, MANWIDTH="80",
                                                             LC_ALL="C.UTF-8"))
        report.check(f"man --warnings -l {page}: rendered, no warning",
                     [] if m.returncode == 0 and m.stdout and not m.stderr.strip() else
                     [f"exit {m.returncode}: {m.stderr.strip()[:300]}"])
    for program, page in ((exe, "dicomfs.1.gz"), (tool, "dicomfs-tool.1.gz")):
        h = run([program, "--help"])
        text = man_text(os.path.join(scratch, "usr", "share", "man", "man1", page))
        missing = sorted(o for o in options_of(h.stdout + h.stderr)
                         if o.lstrip("-") not in text)
        report.check(f"{page}: every option of --help is in it", missing)
    completion = os.path.join(scratch, "usr", "share", "bash-completion", "completions", "dicomfs")
    c = run(["bash", "-c", f"source '{completion}'; "
             "COMP_WORDS=(dicomfs -o wait,nowa); COMP_CWORD=2; _dicomfs; echo \"${COMPREPLY[*]}\"; "
             "COMP_WORDS=(dicomfs -o wait,cache_); COMP_CWORD=2; _dicomfs; echo \"${COMPREPLY[*]}\"; "
             "COMP_WORDS=(dicomfs-tool js); COMP_CWORD=1; _dicomfs_tool; echo \"${COMPREPLY[*]}\""])
    report.check("bash completion: -o names and dicomfs-tool's commands",
                 c.stdout.splitlines() == ["wait,nowatch", "wait,cache_mb= wait,cache_dir= wait,cache_gb=",
                                           "json"], c.stdout.strip() + c.stderr.strip())

    # Installed for real, mounted as mount(8) and fstab do.
    if run(["dpkg-query", "-W", "dicomfs"]).returncode == 0 or os.path.exists("/usr/bin/dicomfs"):
        print("SKIP mount -t fuse.dicomfs: dicomfs is installed on this machine already")
        return
    archive = os.path.join(tmp, "archive")
    subprocess.run(["/usr/bin/python3", os.path.join(root, "scripts", "make-archive.py"), archive,
                    "--preset", "sample"], check=True, capture_output=True,
                   timeout=ml.scaled(300))
    import json
    patients = len(json.load(open(os.path.join(archive, "truth.json")))["patients"])
    source = os.path.join(archive, "source")
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt)
    i = run(["dpkg", "-i", deb], timeout=ml.scaled(300))
    report.check("dpkg -i installs it", i.returncode == 0, i.stderr.strip()[-300:])
    try:
        mount_and_check(report, "mount -t fuse.dicomfs SOURCE MNT -o ro,wait,noindex mounts the "
                        "sample archive; umount unmounts it, the daemon exits",
                        ["mount", "-t", "fuse.dicomfs", source, mnt, "-o", "ro,wait,noindex"],
                        mnt, patients)
        fstab = os.path.join(tmp, "fstab")
        with open(fstab, "w") as f:
            f.write(f"{source} {mnt} fuse.dicomfs ro,noauto,user,wait,noindex 0 0\n")
        mount_and_check(report, "an fstab line (fuse.dicomfs ro,noauto,user): mount --fstab "
                        "FILE MNT mounts it; umount unmounts it", ["mount", "--fstab", fstab, mnt],
                        mnt, patients)
    finally:
        if ml.mounts_under(tmp):
            run(["umount", "-l", mnt])
        p = run(["dpkg", "--purge", "dicomfs"], timeout=ml.scaled(300))
        report.check("dpkg --purge removes it again", p.returncode == 0 and
                     not os.path.exists("/usr/bin/dicomfs"), p.stderr.strip()[-300:])


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[-1], file=sys.stderr)
        return 2
    for tool in ("dpkg-buildpackage", "dh", "lintian", "man"):
        if shutil.which(tool) is None:
            print(f"SKIP: no {tool}")
            return 77
    root = os.path.abspath(sys.argv[1])
    report = ml.Report()
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="dicomfs-package-test."))
    ml.start_watchdog(WATCHDOG_SECONDS, report, tmp)
    try:
        run_checks(report, root, tmp)
    except Exception:  # noqa: BLE001 - a crash of the test is a failure, reported
        report.check("the test itself ran to the end", [traceback.format_exc()])
    finally:
        left = ml.mounts_under(tmp)
        report.check("nothing left behind: no mount", left)
        if not left:
            shutil.rmtree(tmp, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
