from bokeh.io import curdoc
from bokeh.models import Div, Slider

curdoc().add_root(Div(text="Hello from Bokeh"))
curdoc().add_root(Slider(start=0, end=10, value=3, title="n"))
