import panel as pn

slider = pn.widgets.IntSlider(name="n", start=0, end=10, value=3)
pn.Column("# Hello from Panel", slider, pn.bind(lambda n: f"square is {n * n}", slider)).servable()
