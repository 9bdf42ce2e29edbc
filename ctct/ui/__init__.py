"""Streamlit helpers shared by the pages (the only place in ctct that imports streamlit)."""
