"""Scrapy settings for policytrail's crawler.

The defaults are sized for the Internet Archive, which allows about 60 CDX requests a minute per
IP and firewalls an IP for an hour (doubling each time) if it keeps requesting after a 429:

- CDX queries: 24 a minute; capture fetches: 2 a second; 2 requests in flight per host
  (``ArchivePolitenessMiddleware``, token buckets per host and kind);
- a 429 pauses every request to that host for ``Retry-After`` seconds, else 60 s, doubling while
  429s continue;
- timeouts, connection errors, truncated bodies and 5xx are retried 3 times with exponential
  backoff (2 s, 4 s, 8 s); then the capture is recorded as failed and the next crawl tries again.

Per-archive limits go in ``ARCHIVE_RATES``, e.g. ``{"127.0.0.1:8080": {"cdx_per_minute": 0,
"captures_per_second": 0}}`` (0 lifts a limit); ``policytrail crawl --no-limits`` lifts them all
for a local archive.
"""

BOT_NAME = "policytrail"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

#: The SQLite database the crawl reads its policies from and stores captures in.
POLICYTRAIL_DB = "policytrail.db"

USER_AGENT = "policytrail/0.1 (policy history research; +https://pypi.org/project/policytrail/)"
ROBOTSTXT_OBEY = False

#: Requests a minute to an archive's CDX API, and capture fetches a second (0: no limit).
ARCHIVE_CDX_PER_MINUTE = 24.0
ARCHIVE_CAPTURES_PER_SECOND = 2.0
#: Requests that may go at once after an idle spell (the buckets' capacity).
ARCHIVE_BURST = 1.0
#: Per-host overrides of the three settings above.
ARCHIVE_RATES: dict[str, dict[str, float]] = {}
#: Requests in flight at once to one archive host.
ARCHIVE_CONCURRENCY = 2
#: Seconds to pause after a 429 without Retry-After; doubles while 429s continue.
ARCHIVE_429_PAUSE = 60.0
ARCHIVE_429_MAX_PAUSE = 3600.0
ARCHIVE_429_RETRIES = 5
#: Backoff before retry N: RETRY_BACKOFF_BASE * 2 ** (N - 1), at most RETRY_BACKOFF_MAX.
RETRY_BACKOFF_BASE = 2.0
RETRY_BACKOFF_MAX = 120.0
#: CDX rows per page where the archive pages with resume keys (the Internet Archive).
CDX_PAGE_SIZE = 10000

# The middleware above does the pacing; Scrapy's own delay would only add to it.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 16
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 60
#: Captures larger than this are recorded with the reason "too large", never half-stored.
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024

RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]

DOWNLOADER_MIDDLEWARES = {"crawler.middlewares.ArchivePolitenessMiddleware": 950}
ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}

#: With REDIS_URL set (``policytrail crawl --redis URL``), the crawl is one worker of a run shared
#: through Redis: scrapy-redis's scheduler, items to Redis for ``policytrail ingest``, rate
#: limits kept in Redis (see crawler/redis_run.py and docs/scale-out.md).
ADDONS = {"crawler.redis_run.RedisAddon": 0}

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"
