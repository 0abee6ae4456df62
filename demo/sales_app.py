"""Example Streamlit dashboard of the Podium demo (in alice's storage: apps/sales/app.py)."""

import random

import streamlit as st

st.title("Sales by region")
region = st.selectbox("Region", ["EMEA", "Americas", "APAC"])
months = st.slider("Months", 3, 24, 12)
random.seed(region)
values = [random.randint(50, 150) for _ in range(months)]
st.line_chart({"sales": values})
st.write(f"Total for {region}: {sum(values)} units over {months} months")
