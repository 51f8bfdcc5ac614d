# The agent's own image. The base images are build arguments, so the same file builds from the
# public images in CI and from images made locally where no registry can be reached.
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
COPY pipelines/ pipelines/
# A builder image made without network sets CARGO_NET_OFFLINE and carries the crates itself.
RUN cargo build --release --locked --bin vitality-publish \
 && cp target/release/vitality-publish /usr/local/bin/vitality-publish

FROM ${RUNTIME_IMAGE}
COPY --from=builder /usr/local/bin/vitality-publish /usr/local/bin/vitality-publish
# The agent only talks TLS through rustls with the system's roots, read at start.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/usr/local/bin/vitality-publish"]
CMD ["--help"]
