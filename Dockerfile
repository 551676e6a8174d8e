# ssobroker container image.
#   docker build -t ssobroker .
#   docker run --rm -p 8080:8080 -e SSOBROKER_SECRET_KEY="$(openssl rand -base64 32)" ssobroker
# Without SSOBROKER_DATABASE_URL the directory is an embedded SQLite file in /data (mount a volume
# there to keep it); docker-compose.yml runs it with PostgreSQL 15 and Redis 7.

# Go version: go.mod's `go` line.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /ssobroker ./cmd/ssobroker \
 && mkdir -p /out/data

# Static binary (pure-Go SQLite, no cgo) on distroless: CA certificates, tzdata, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /ssobroker /ssobroker
# /data itself is an entry of /out/, so it gets the owner too (an implicitly created dir may not).
COPY --from=build --chown=65532:65532 /out/ /
USER 65532:65532
ENV SSOBROKER_ADDR=0.0.0.0:8080 \
    SSOBROKER_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/ssobroker"]
CMD ["serve"]
