"""Scrapy settings for policytrail's crawler.

The defaults are sized for the Internet Archive, which allows about 60 CDX requests a minute per
IP and firewalls an IP for an hour if it keeps requesting after a 429: one request at a time,
one every 1.5 seconds (40 a minute), and a 429 is never retried at once (the capture is recorded
as failed and the next crawl tries it again). A local archive can lift the delay with
``policytrail crawl --delay 0`` (``-s DOWNLOAD_DELAY=0`` with ``scrapy crawl``).
"""

BOT_NAME = "policytrail"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

#: The SQLite database the crawl reads its policies from and stores captures in.
POLICYTRAIL_DB = "policytrail.db"

USER_AGENT = "policytrail/0.1 (policy history research; +https://pypi.org/project/policytrail/)"
ROBOTSTXT_OBEY = False

CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.5
DOWNLOAD_DELAY_JITTER = 0
DOWNLOAD_TIMEOUT = 60
#: Captures larger than this are recorded as failed ("too large"), never half-stored.
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024

RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPCACHE_ENABLED = False

ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {"crawler.middlewares.TooManyRequestsMiddleware": 540}
#: Seconds to pause after a 429 without Retry-After; doubles while 429s continue.
ARCHIVE_429_PAUSE = 60.0
ARCHIVE_429_RETRIES = 5
