# syntax=docker/dockerfile:1
# Build: CI runs this stage's `go build` line verbatim (scripts/docker-build-check.sh)
# and cmd/server/dockerfile_test.go checks every path copied below exists.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY migrations ./migrations
COPY static ./static
COPY templates ./templates
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/saex ./cmd/server
# The data directory (demo-build spill files) must belong to the runtime
# user: a named volume mounted there starts with this ownership.
RUN mkdir -p /out/data

# Runtime: a small image with no shell, running as an unprivileged user
# (distroless "nonroot", uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/saex /app/saex
COPY --from=build --chown=65532:65532 /out/data /var/lib/saex
COPY static /app/static
COPY demo /app/demo
USER 65532:65532
ENV SAEX_ADDR=:8080 SAEX_DEMO_DIR=/app/demo SAEX_DATA_DIR=/var/lib/saex
EXPOSE 8080
VOLUME ["/var/lib/saex"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/app/saex", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/app/saex"]
CMD ["serve"]
