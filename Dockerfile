# syntax=docker/dockerfile:1
#
# breachctl: one static binary (dev, worker, serve and the incident CLI) on a
# distroless, non-root base. docker-compose.yml builds it for the worker and
# the HTTP server; docs/deploy.md has the rest.
#
#   docker build -t breachctl .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal:7233 breachctl worker
#
# Secrets (TEMPORAL_API_KEY, SENDGRID_API_KEY, SLACK_*, BREACHCTL_ENCRYPTION_KEYS,
# BREACHCTL_CODEC_TOKEN, BREACHCTL_STORE_PASSWORD) are given to the container
# at run time; none is ever written into the image. Configuration files are
# mounted (docker-compose.yml: deploy/config at /etc/breachctl/config).

# The Go release go.mod names. Keep GOTOOLCHAIN=local so the build uses exactly
# this toolchain and never downloads another one.
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-trixie AS build
ARG TARGETOS
ARG TARGETARCH
ENV GOTOOLCHAIN=local \
    CGO_ENABLED=0 \
    GOCACHE=/root/.cache/go-build \
    GOMODCACHE=/go/pkg/mod
WORKDIR /src

# Modules first: this layer and its cache survive source-only changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# CGO stays off: the embedded server's SQLite driver (modernc.org/sqlite) is
# pure Go, so the binary is fully static and needs no libc at run time.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/breachctl ./cmd/breachctl && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/healthcheck ./deploy/healthcheck && \
    mkdir -p /out/state/outbox

# static-debian13 carries CA certificates, tzdata and /etc/passwd with the
# nonroot user (65532), and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/breachctl /breachctl
COPY --from=build /out/healthcheck /healthcheck
# An outbox directory the nonroot user owns: a named volume mounted there
# starts with this ownership, so a worker without SendGrid can write it when
# told to (BREACHCTL_OUTBOX_DIR, deploy/compose.outbox.yaml); without either
# it refuses to start.
COPY --from=build --chown=65532:65532 /out/state/ /var/lib/breachctl/
USER 65532:65532
# Writable for nonroot: where `breachctl dev` keeps .breachctl/ if run here.
WORKDIR /home/nonroot
# In a container the server must listen on every interface, not the loopback
# default, or a published port reaches nothing.
ENV BREACHCTL_HTTP_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/breachctl"]
CMD ["--help"]
