"""The crawl stage: a Scrapy project that lists and fetches policy captures from web archives."""
