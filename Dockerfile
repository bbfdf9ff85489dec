# smartcity on Debian 12, built by the project's own set-up script. Used by docker-compose.yml.
# NOT TESTED (no Docker engine on the project's machines).
FROM debian:12
WORKDIR /src
COPY . .
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates \
    && scripts/setup.sh release \
    && install -m 0755 build/release/src/cli/smartcity /usr/local/bin/smartcity \
    && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["smartcity"]
CMD ["--help"]
