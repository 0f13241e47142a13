# Image for the distributed deployment (docker-compose.yaml): Airflow 3.3.2 plus this
# project's requirements; dags, plugins and include are mounted or baked in.
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends php-cli libmariadb-dev pkg-config gcc \
    && rm -rf /var/lib/apt/lists/*
USER airflow
# requirements.txt pins every provider (amazon with s3fs, celery, postgres, sftp, ssh,
# standard); constraints.txt pins everything else, as tested.
COPY requirements.txt constraints.txt /
RUN pip install --no-cache-dir -r /requirements.txt -c /constraints.txt
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins
