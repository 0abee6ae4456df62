from dash import Dash, Input, Output, dcc, html

app = Dash(__name__)
app.layout = html.Div(
    [html.H1("Hello from Dash"), dcc.Input(id="name", value="world"), html.Div(id="shout")]
)


@app.callback(Output("shout", "children"), Input("name", "value"))
def shout(name):
    return f"HELLO {name.upper()}"


if __name__ == "__main__":
    app.run(debug=True, port=8050)
