# Image for the distributed deployment (docker-compose.yaml): Airflow 3.3.2 plus this
# project's requirements; dags, plugins and include are mounted or baked in.
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends php-cli libmariadb-dev pkg-config gcc \
    && rm -rf /var/lib/apt/lists/*
USER airflow
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt "apache-airflow-providers-amazon[s3fs]==9.39.0" \
    "apache-airflow-providers-celery" "apache-airflow-providers-postgres"
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins
