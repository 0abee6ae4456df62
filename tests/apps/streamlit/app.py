import streamlit as st

st.title("Hello from Streamlit")
n = st.slider("n", 0, 10, 3)
st.write(f"square is {n * n}")
