"""What YAML rules can match, and the fields each subject offers to the match language.

Static subjects (built by detonate.static's analyzers):
- file: one entry of the rootfs index. `path` "/usr/bin/su", `name` "su", `dir` "/usr/bin",
  `type` "file"/"dir"/"symlink"/…, `size`, `mode` (with setuid bits), `uid`, `gid`, `layer`
  (index, 0 = bottom), `executable` (bool), `link_target`, `owned` (listed by dpkg or apk:
  shipped by a package), `content` (text of the first bytes of a regular file; read only when
  every other test held).
- config: one item of the image config. `part` is one of command (entrypoint + cmd joined),
  user, env ("KEY=value"), exposed_port ("3333/tcp"), label ("key=value"), healthcheck,
  workdir, history (a build step's `created_by`); `text` is its text; `index` its position.
- ioc: one indicator found in the config or in file strings. `kind` (domain, ip, url, pool,
  wallet), `value`, `coin` (monero, bitcoin; wallets only), `path` (file it came from, or
  "image config").

Runtime subjects are added here by the runtime rule engine.
"""

from __future__ import annotations

SUBJECT_FIELDS: dict[str, frozenset[str]] = {
    "file": frozenset(
        {
            "path",
            "name",
            "dir",
            "type",
            "size",
            "mode",
            "uid",
            "gid",
            "layer",
            "executable",
            "link_target",
            "owned",
            "content",
        }
    ),
    "config": frozenset({"part", "text", "index"}),
    "ioc": frozenset({"kind", "value", "coin", "path"}),
}

# Fields that cost I/O: their tests run after all the cheap ones.
LATE_FIELDS: dict[str, frozenset[str]] = {"file": frozenset({"content"})}

# YARA rules match file content; they have no YAML subject.
YARA_SUBJECT = "content"
