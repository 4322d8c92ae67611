# Helmward controller image. The Go shim (internal/helm) is built in the first stage, by the
# same script (and so with the same flags) as make build.
FROM golang:1.26-bookworm AS shim
WORKDIR /src
COPY hack/lib/ hack/lib/
COPY hack/tools/ hack/tools/
COPY internal/helm/shim/ internal/helm/shim/
RUN export HELMWARD_CACHE=/build \
 && bash hack/lib/build-shim.sh \
 && install -D "$(bash hack/lib/build-shim.sh --print-path)" /out/libhelmward.so

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends git openssh-client gpg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api/ api/
COPY controller/ controller/
COPY internal/ internal/
COPY --from=shim /out/ /usr/local/lib/helmward/
RUN pip install --no-cache-dir . \
 && install -d -o 65534 -g 65534 -m 0755 /data \
 && chmod 1777 /tmp
# config/manager runs the image as 65534:65534 (nobody, as Flux's images) with a read-only
# root file system and emptyDir volumes on /data (--storage-path) and /tmp; without those
# volumes (docker run) the same two directories are writable for that user. HOME is /tmp so
# anything that writes under $HOME finds a writable directory.
ENV HELMWARD_SHIM_PATH=/usr/local/lib/helmward/libhelmward.so \
    STORAGE_PATH=/data \
    HOME=/tmp
USER 65534:65534
ENTRYPOINT ["helmward"]
CMD ["run"]
