# Helmward controller image. The Go shim (internal/helm) is built in the first stage.
FROM golang:1.26-bookworm AS shim
WORKDIR /src
COPY internal/ internal/
RUN if [ -f internal/helm/shim/go.mod ]; then \
      cd internal/helm/shim && CGO_ENABLED=1 go build -trimpath -buildmode=c-shared \
        -o /out/libhelmward.so . ; \
    else mkdir -p /out; fi

FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api/ api/
COPY controller/ controller/
COPY internal/ internal/
COPY --from=shim /out/ /usr/local/lib/helmward/
RUN pip install --no-cache-dir . && useradd --uid 65532 --no-create-home helmward
ENV HELMWARD_SHIM_PATH=/usr/local/lib/helmward/libhelmward.so
USER 65532:65532
ENTRYPOINT ["helmward"]
CMD ["run"]
