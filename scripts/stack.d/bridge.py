"""The ECR side of the local stack, in one process.

- moto (ECR and STS API) on 127.0.0.1:5056, run in-process with ThreadedMotoServer, so this
  process can decide what a scan reports (see Scans below);
- the bridge on 127.0.0.1:5057:
    POST /events     the registry's notifications: every pushed manifest is registered in ECR
                     (PutImage with the registry's exact bytes, media type and digest) and, when
                     the repository scans on push, its scan is started;
    POST /scenarios  {"repository", "status", "findings", "enhancedFindings", "description",
                      "delay", "in_progress"}: the scan result of every image pushed to that
                     repository from then on;
    GET  /scenarios  the scenarios in force;
    GET  /health     200 when both servers answer.

Why moto runs in this process: moto's own knob for scan results (/moto-api/static/ecr/
scan-finding-results) binds a canned response to the exact imageId JSON of the first
DescribeImageScanFindings call that matches, and keeps it forever. A result read by digest is
then not the one read by tag, a result can never move from IN_PROGRESS to COMPLETE, and every
other read gets moto's fake HIGH finding. Here StartImageScan and DescribeImageScanFindings of
moto's backend are wrapped: starting a scan records the repository's scenario for that digest,
and reading it answers from the record, however the image is named. Everything else (errors
such as ScanNotFoundException, ImageNotFoundException) stays moto's own.

Run with the stack's venv python: python bridge.py --log-dir DIR.
"""

import argparse
import base64
import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.exceptions
import botocore.session
from moto.ecr.models import ECRBackend
from moto.server import ThreadedMotoServer

log = logging.getLogger("bridge")

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)

# ECR's own descriptions, so that a gate that prints them reads like the real thing.
DESCRIPTIONS = {
    "COMPLETE": "The scan was completed successfully.",
    "FAILED": "UnsupportedImageError: The operating system and/or package manager are not supported.",
    "UNSUPPORTED_IMAGE": "The operating system and/or package manager are not supported.",
    "IN_PROGRESS": "The scan is in progress.",
    "PENDING": "The scan is queued.",
    "ACTIVE": "Continuous scan is selected for image.",
}
# Statuses under which ECR returns imageScanFindings.
WITH_FINDINGS = ("COMPLETE", "ACTIVE")
SCENARIO_KEYS = {
    "repository", "status", "findings", "enhancedFindings", "description", "delay", "in_progress",
}


def scan_statuses():
    """Every ScanStatus the ECR model knows (taken from botocore, so it cannot drift)."""
    model = botocore.session.get_session().get_service_model("ecr")
    return tuple(model.shape_for("ScanStatus").enum)


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ScenarioError(ValueError):
    pass


def parse_scenario(body, statuses):
    """Validates a POST /scenarios body; returns the scenario with defaults filled in."""
    if not isinstance(body, dict):
        raise ScenarioError("body must be a JSON object")
    unknown = set(body) - SCENARIO_KEYS
    if unknown:
        raise ScenarioError(f"unknown keys {sorted(unknown)}; known: {sorted(SCENARIO_KEYS)}")
    repo = body.get("repository")
    if not isinstance(repo, str) or not repo:
        raise ScenarioError("repository must be a non-empty string")
    status = body.get("status", "COMPLETE")
    if status not in statuses:
        raise ScenarioError(f"status {status!r} is not one of {list(statuses)}")
    scenario = {"repository": repo, "status": status}
    for key in ("findings", "enhancedFindings"):
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(f, dict) for f in value):
            raise ScenarioError(f"{key} must be a list of objects")
        scenario[key] = value
    for key in ("delay", "in_progress"):
        value = body.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ScenarioError(f"{key} must be a number of seconds >= 0")
        scenario[key] = value
    description = body.get("description", DESCRIPTIONS.get(status, status))
    if not isinstance(description, str):
        raise ScenarioError("description must be a string")
    scenario["description"] = description
    return scenario


class Scans:
    """Scenarios per repository, and the scan of each (repository, digest) once started."""

    CLEAN = {"status": "COMPLETE", "findings": [], "enhancedFindings": [],
             "description": DESCRIPTIONS["COMPLETE"], "delay": 0, "in_progress": 0}

    def __init__(self):
        self.lock = threading.Lock()
        self.scenarios = {}  # repository -> scenario
        self.pushed = {}  # (repository, digest) -> scenario in force when it was pushed
        self.started = {}  # (repository, digest) -> (scenario, start time)

    def set_scenario(self, scenario):
        with self.lock:
            self.scenarios[scenario["repository"]] = scenario

    def scenario_for(self, repo):
        with self.lock:
            return self.scenarios.get(repo, self.CLEAN)

    def note_push(self, repo, digest, scenario):
        with self.lock:
            self.pushed.setdefault((repo, digest), scenario)

    def is_known(self, repo, digest):
        """A scan was started or is waiting for its delay."""
        with self.lock:
            return (repo, digest) in self.started or (repo, digest) in self.pushed

    def forget(self, repo, digest):
        with self.lock:
            self.pushed.pop((repo, digest), None)
            self.started.pop((repo, digest), None)

    def start(self, repo, digest):
        """Called when moto starts a scan: fixes the scenario the scan will report."""
        with self.lock:
            scenario = self.pushed.get((repo, digest)) or self.scenarios.get(repo, self.CLEAN)
            self.started[(repo, digest)] = (scenario, time.time())

    def response(self, moto_response):
        """The DescribeImageScanFindings answer for a started scan, from its scenario."""
        repo = moto_response["repositoryName"]
        digest = moto_response["imageId"]["imageDigest"]
        with self.lock:
            record = self.started.get((repo, digest))
        if record is None:
            return moto_response
        scenario, started_at = record
        status, description = scenario["status"], scenario["description"]
        if time.time() - started_at < scenario["in_progress"]:
            status, description = "IN_PROGRESS", DESCRIPTIONS["IN_PROGRESS"]
        answer = {
            "registryId": moto_response["registryId"],
            "repositoryName": repo,
            "imageId": moto_response["imageId"],
            "imageScanStatus": {"status": status, "description": description},
        }
        if status in WITH_FINDINGS:
            answer["imageScanFindings"] = findings_block(scenario, started_at)
        return answer


def findings_block(scenario, started_at):
    counts = {}
    for finding in scenario["findings"] + scenario["enhancedFindings"]:
        severity = finding.get("severity", "UNDEFINED")
        counts[severity] = counts.get(severity, 0) + 1
    block = {
        "imageScanCompletedAt": iso(started_at + scenario["in_progress"]),
        "vulnerabilitySourceUpdatedAt": iso(started_at),
        "findingSeverityCounts": counts,
        "findings": scenario["findings"],
    }
    if scenario["enhancedFindings"]:
        block["enhancedFindings"] = scenario["enhancedFindings"]
    return block


def wrap_moto(scans):
    """Wraps moto's ECR backend so that scans report their scenario (see module doc)."""
    original_start = ECRBackend.start_image_scan
    original_describe = ECRBackend.describe_image_scan_findings

    def start_image_scan(self, registry_id, repository_name, image_id):
        result = original_start(self, registry_id, repository_name, image_id)
        scans.start(repository_name, result["imageId"]["imageDigest"])
        return result

    def describe_image_scan_findings(self, registry_id, repository_name, image_id):
        # moto's own checks first: unknown repository or image, scan not started.
        return scans.response(original_describe(self, registry_id, repository_name, image_id))

    ECRBackend.start_image_scan = start_image_scan
    ECRBackend.describe_image_scan_findings = describe_image_scan_findings


class Bridge:
    """Turns registry push notifications into ECR API state."""

    def __init__(self, scans, ecr, registry, auth):
        self.scans = scans
        self.ecr = ecr
        self.registry = registry
        self.auth = auth
        # One event at a time: the registry may deliver a batch and retry it.
        self.lock = threading.Lock()

    def handle_envelope(self, envelope):
        for event in envelope.get("events", []):
            try:
                with self.lock:
                    self.handle_event(event)
            except Exception:  # noqa: BLE001 - a bad event must not stop the others
                log.exception("event %s failed", event.get("id"))

    def handle_event(self, event):
        action, target = event.get("action"), event.get("target", {})
        repo, digest, tag = target.get("repository"), target.get("digest"), target.get("tag")
        if action == "push" and target.get("mediaType") in MANIFEST_TYPES:
            self.register(repo, digest, tag, target["mediaType"])
        elif action == "delete" and repo and digest:
            # Only by digest: distribution deletes manifests by digest, and the tag events that
            # follow (one per tag the manifest had) name tags already gone with it.
            self.forget(repo, digest)

    def register(self, repo, digest, tag, media_type):
        log.info("push %s@%s tag=%s type=%s", repo, digest, tag, media_type)
        manifest = self.fetch_manifest(repo, digest)
        scan_on_push = self.ensure_repository(repo)
        params = {
            "repositoryName": repo,
            "imageManifest": manifest.decode("utf-8"),
            "imageManifestMediaType": media_type,
            "imageDigest": digest,
        }
        if tag:
            params["imageTag"] = tag
        try:
            self.ecr.put_image(**params)
            log.info("PutImage %s@%s tag=%s done", repo, digest, tag)
        except self.ecr.exceptions.ImageAlreadyExistsException:
            log.info("PutImage %s@%s tag=%s: already there", repo, digest, tag)
        if not scan_on_push:
            log.info("%s does not scan on push: no scan", repo)
            return
        if self.scans.is_known(repo, digest):
            log.info("%s@%s already scanned: no new scan for tag %s", repo, digest, tag)
            return
        scenario = self.scans.scenario_for(repo)
        self.scans.note_push(repo, digest, scenario)
        if scenario["delay"]:
            log.info("scan of %s@%s starts in %ss", repo, digest, scenario["delay"])
            timer = threading.Timer(scenario["delay"], self.start_scan, (repo, digest))
            timer.daemon = True
            timer.start()
        else:
            self.start_scan(repo, digest)

    def start_scan(self, repo, digest):
        try:
            self.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
            log.info("StartImageScan %s@%s done", repo, digest)
        except self.ecr.exceptions.LimitExceededException:
            log.info("StartImageScan %s@%s: already scanned today", repo, digest)
        except Exception:  # noqa: BLE001 - logged; a timer thread has no one to tell
            log.exception("StartImageScan %s@%s failed", repo, digest)

    def forget(self, repo, digest):
        self.scans.forget(repo, digest)
        try:
            out = self.ecr.batch_delete_image(
                repositoryName=repo, imageIds=[{"imageDigest": digest}]
            )
            log.info("BatchDeleteImage %s@%s: %s deleted, %s failures", repo, digest,
                     len(out.get("imageIds", [])), len(out.get("failures", [])))
        except self.ecr.exceptions.RepositoryNotFoundException:
            log.info("delete %s@%s: no such ECR repository", repo, digest)

    def fetch_manifest(self, repo, digest):
        request = urllib.request.Request(
            f"http://{self.registry}/v2/{repo}/manifests/{digest}",
            headers={"Accept": ", ".join(MANIFEST_TYPES), "Authorization": self.auth},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if actual != digest:
            raise ValueError(f"registry served {actual} for {repo}@{digest}")
        return body

    def ensure_repository(self, repo):
        """Creates the ECR repository on first push (scan on push on); says whether it scans."""
        try:
            found = self.ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]
            return found["imageScanningConfiguration"]["scanOnPush"]
        except self.ecr.exceptions.RepositoryNotFoundException:
            self.ecr.create_repository(
                repositoryName=repo, imageScanningConfiguration={"scanOnPush": True}
            )
            log.info("CreateRepository %s (scan on push)", repo)
            return True


def make_handler(bridge, scans, statuses, moto_url):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            log.debug("%s %s", self.address_string(), fmt % args)

        def reply(self, code, payload):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_json(self):
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self):
            if self.path == "/health":
                self.health()
            elif self.path == "/scenarios":
                with scans.lock:
                    self.reply(200, list(scans.scenarios.values()))
            else:
                self.reply(404, {"error": f"no route GET {self.path}"})

        def do_POST(self):
            if self.path == "/events":
                self.events()
            elif self.path == "/scenarios":
                self.scenario()
            else:
                self.reply(404, {"error": f"no route POST {self.path}"})

        def health(self):
            try:
                urllib.request.urlopen(f"{moto_url}/moto-api/config", timeout=2).read()
            except (urllib.error.URLError, OSError) as err:
                self.reply(503, {"error": f"moto does not answer: {err}"})
                return
            self.reply(200, {"ok": True})

        def events(self):
            # Always 200: the registry retries a failed delivery forever, holding back the
            # events queued behind it. Failures are in the log instead.
            try:
                envelope = self.read_json()
            except ValueError as err:
                log.error("unreadable notification: %s", err)
                envelope = {}
            bridge.handle_envelope(envelope or {})
            self.reply(200, {"ok": True})

        def scenario(self):
            try:
                scenario = parse_scenario(self.read_json(), statuses)
            except (ValueError, ScenarioError) as err:
                self.reply(400, {"error": str(err)})
                return
            scans.set_scenario(scenario)
            log.info("scenario for %s: %s, %d findings, delay %ss, in progress %ss",
                     scenario["repository"], scenario["status"],
                     len(scenario["findings"]) + len(scenario["enhancedFindings"]),
                     scenario["delay"], scenario["in_progress"])
            self.reply(200, scenario)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5057)
    parser.add_argument("--moto-port", type=int, default=5056)
    parser.add_argument("--registry", default="127.0.0.1:5055")
    parser.add_argument("--registry-user", default="AWS")
    parser.add_argument("--registry-password", default="123456789012-auth-token")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--log-dir", required=True)
    args = parser.parse_args()

    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handler = logging.FileHandler(f"{args.log_dir}/bridge.log")
    handler.setFormatter(fmt)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    # moto's request log (werkzeug) goes to its own file.
    moto_log = logging.getLogger("werkzeug")
    moto_handler = logging.FileHandler(f"{args.log_dir}/moto.log")
    moto_handler.setFormatter(fmt)
    moto_log.addHandler(moto_handler)
    moto_log.setLevel(logging.INFO)
    moto_log.propagate = False

    scans = Scans()
    wrap_moto(scans)
    moto = ThreadedMotoServer(ip_address=args.host, port=args.moto_port, verbose=False)
    moto.start()
    moto_url = f"http://{args.host}:{args.moto_port}"
    log.info("moto %s serving on %s", __import__("moto").__version__, moto_url)

    ecr = boto3.client(
        "ecr", region_name=args.region, endpoint_url=moto_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    token = base64.b64encode(f"{args.registry_user}:{args.registry_password}".encode()).decode()
    bridge = Bridge(scans, ecr, args.registry, f"Basic {token}")
    ThreadingHTTPServer.request_queue_size = 64  # tests push in parallel
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(bridge, scans, scan_statuses(), moto_url)
    )
    log.info("bridge serving on http://%s:%d (registry %s)", args.host, args.port, args.registry)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        moto.stop()
        log.info("stopped")


if __name__ == "__main__":
    main()
