# The agent's own image. The base images are build arguments, so the same file builds from the
# public images in CI and from images made locally where no registry can be reached.
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS builder
# Empty (the default): the release profile of Cargo.toml, thin LTO. Any other value: a release
# build without LTO (opt-level 1, 16 codegen units), quicker to make, for tests that only need
# the image to work.
ARG CARGO_RELEASE_FAST=
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
COPY pipelines/ pipelines/
# A builder image made without network sets CARGO_NET_OFFLINE and carries the crates itself.
# The build tree and unpacked crates go with the step: the stage's layer keeps only the binary.
RUN if [ -n "$CARGO_RELEASE_FAST" ]; then \
      export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
             CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16; \
    fi \
 && cargo build --release --locked --bin vitality-publish \
 && cp target/release/vitality-publish /usr/local/bin/vitality-publish \
 && rm -rf target "${CARGO_HOME:-$HOME/.cargo}/registry/src"

FROM ${RUNTIME_IMAGE}
COPY --from=builder /usr/local/bin/vitality-publish /usr/local/bin/vitality-publish
# The agent only talks TLS through rustls with the system's roots, read at start.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/usr/local/bin/vitality-publish"]
CMD ["--help"]
