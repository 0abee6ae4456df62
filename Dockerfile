# The gateway image (podium). Build from the repository root:  docker build -t podium .
FROM python:3.11-slim-bookworm

COPY pyproject.toml README.md /src/
COPY relay /src/relay
COPY runners /src/runners
COPY gateway /src/gateway
RUN pip install --no-cache-dir /src && rm -rf /src

RUN useradd --create-home --uid 1000 --user-group podium
USER 1000:1000
WORKDIR /home/podium
EXPOSE 8765
CMD ["podium"]
