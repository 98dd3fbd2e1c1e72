# One Houqin worker: `houqin run` (see docker-compose.yml for several behind nginx).
FROM python:3.11-slim
# A CJK font for the charts (notices/charts.py looks for WenQuanYi Micro Hei).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps .
USER nobody
CMD ["houqin", "run"]
