# syntax=docker/dockerfile:1
# Build: the same command scripts/docker-build-check.sh runs in CI.
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

# Runtime: a small image with no shell, running as an unprivileged user.
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/saex /app/saex
COPY static /app/static
COPY demo /app/demo
USER nonroot:nonroot
ENV SAEX_ADDR=:8080 SAEX_DEMO_DIR=/app/demo SAEX_DATA_DIR=/tmp/saex
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/app/saex", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/app/saex"]
CMD ["serve"]
