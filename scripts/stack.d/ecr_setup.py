"""ECR API chores of scripts/stack, run with the stack's venv python.

  ensure-repo NAME --lifecycle-policy FILE
      creates the repository if missing (scan on push, KMS encryption) and sets its lifecycle
      policy; prints "created" or "present".
  wait-image NAME DIGEST [--timeout S]
      waits until the bridge has registered DIGEST in NAME and its scan reads COMPLETE; prints
      the scan status. Used by the self-check of `scripts/stack up`.
"""

import argparse
import sys
import time

import boto3


def client(args):
    return boto3.client(
        "ecr", region_name=args.region, endpoint_url=args.endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def ensure_repo(args):
    ecr = client(args)
    try:
        ecr.describe_repositories(repositoryNames=[args.name])
        state = "present"
    except ecr.exceptions.RepositoryNotFoundException:
        ecr.create_repository(
            repositoryName=args.name,
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "KMS"},
        )
        state = "created"
    with open(args.lifecycle_policy) as policy:
        ecr.put_lifecycle_policy(repositoryName=args.name, lifecyclePolicyText=policy.read())
    print(state)


def wait_image(args):
    ecr = client(args)
    deadline = time.monotonic() + args.timeout
    image_id = {"imageDigest": args.digest}
    last = "not registered by the bridge"
    while time.monotonic() < deadline:
        try:
            ecr.describe_images(repositoryName=args.name, imageIds=[image_id])
            scan = ecr.describe_image_scan_findings(repositoryName=args.name, imageId=image_id)
            last = scan["imageScanStatus"]["status"]
            if last == "COMPLETE":
                print(last)
                return
        except (ecr.exceptions.RepositoryNotFoundException,
                ecr.exceptions.ImageNotFoundException):
            pass
        except ecr.exceptions.ScanNotFoundException:
            last = "registered, scan not started"
        time.sleep(0.2)
    sys.exit(f"{args.name}@{args.digest}: {last} after {args.timeout}s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:5056")
    parser.add_argument("--region", default="us-east-1")
    sub = parser.add_subparsers(dest="command", required=True)
    repo = sub.add_parser("ensure-repo")
    repo.add_argument("name")
    repo.add_argument("--lifecycle-policy", required=True)
    repo.set_defaults(run=ensure_repo)
    wait = sub.add_parser("wait-image")
    wait.add_argument("name")
    wait.add_argument("digest")
    wait.add_argument("--timeout", type=float, default=30)
    wait.set_defaults(run=wait_image)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
