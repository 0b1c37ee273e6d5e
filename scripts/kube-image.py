#!/usr/bin/env python3
# Adapted from ../shared/reference/kubernetes-on-debian/mkimage.py (the worked example beside the notes).
"""Build a single-layer image in `docker save` (docker-archive) format from a rootfs dir,
without any registry or docker daemon.  usage: mkimage.py [--entrypoint] ROOTFS NAME:TAG OUT.tar CMD...
With --entrypoint the program is the image's ENTRYPOINT (arguments follow it) instead of its CMD."""
import hashlib, io, json, os, sys, tarfile, time
argv = sys.argv[1:]
entrypoint = argv[:1] == ["--entrypoint"]
rootfs, ref, out, *cmd = argv[1:] if entrypoint else argv
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for dp, dns, fns in os.walk(rootfs):
        dns.sort(); fns.sort()
        for n in dns + fns:
            p = os.path.join(dp, n)
            ti = t.gettarinfo(p, arcname=os.path.relpath(p, rootfs))
            ti.uid = ti.gid = 0; ti.uname = ti.gname = "root"; ti.mtime = 0
            if ti.isfile():
                with open(p, "rb") as f: t.addfile(ti, f)
            else:
                t.addfile(ti)
layer = buf.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
config = {"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
          "config": {("Entrypoint" if entrypoint else "Cmd"): cmd, "Env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"]},
          "rootfs": {"type": "layers", "diff_ids": [diff_id]},
          "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "mkimage.py"}]}
cfg = json.dumps(config, separators=(",", ":")).encode()
cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
manifest = [{"Config": cfg_name, "RepoTags": [ref], "Layers": ["layer/layer.tar"]}]
with tarfile.open(out, "w") as t:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0; t.addfile(ti, io.BytesIO(data))
    ti = tarfile.TarInfo("layer"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
    add("layer/layer.tar", layer); add(cfg_name, cfg)
    add("manifest.json", json.dumps(manifest).encode())
print(f"{out}: {ref} layer={len(layer)} bytes")
